//! Streams' consumer-side gauges from librdkafka's statistics (`statistics.interval.ms`):
//! lag per partition, the size of the assignment, the consumer group state and the
//! rebalance count. Kept here so the streams runtime hands over the statistics in one call.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metrics::{counter, gauge};
use rdkafka::statistics::Statistics;

use crate::catalog::{
    STREAMS_ASSIGNED_PARTITIONS, STREAMS_CONSUMER_LAG, STREAMS_GROUP_STATE,
    STREAMS_REBALANCES_TOTAL,
};

/// Group states already exported, so that leaving one sets its series to 0 instead of
/// leaving a stale 1 behind.
static SEEN_STATES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// The last group report of each consumer of the process (by librdkafka's instance name):
/// with `num.stream.threads` above 1 there is one per stream thread.
static GROUP: Mutex<BTreeMap<String, Member>> = Mutex::new(BTreeMap::new());

/// A consumer that sent no report for this long is gone (closed): statistics come every
/// 5 s (`statistics.interval.ms` of the streams consumer).
const GONE_AFTER: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Member {
    assignment_size: i32,
    rebalance_cnt: i64,
    state: String,
    at: Instant,
}

/// Export one statistics report of a consumer; the group figures add up the process's
/// consumers (one per stream thread):
///
/// - `metricpipe_streams_consumer_lag{topic,partition}`: librdkafka's `consumer_lag` of each
///   partition it knows one for (it reports -1 while unknown; those are skipped);
/// - `metricpipe_streams_assigned_partitions`: the sum of `cgrp.assignment_size`;
/// - `metricpipe_streams_group_state{state}`: how many of the consumers are in `cgrp.state`
///   (`up` once the member has joined and is assigned, `wait-join`, `wait-coord`, ...): 1 or
///   0 with one stream thread; 0 for every other state seen;
/// - `metricpipe_streams_rebalances_total`: the sum of `cgrp.rebalance_cnt`.
///
/// Field meanings: librdkafka's STATISTICS.md.
pub fn record_consumer_statistics(stats: &Statistics) {
    for (topic, t) in &stats.topics {
        for (&partition, p) in &t.partitions {
            if partition >= 0 && p.consumer_lag >= 0 {
                gauge!(STREAMS_CONSUMER_LAG, "topic" => topic.clone(), "partition" => partition.to_string())
                    .set(p.consumer_lag as f64);
            }
        }
    }
    let Some(cgrp) = &stats.cgrp else { return };
    let members = {
        let mut group = GROUP.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        group.retain(|_, m| now.duration_since(m.at) < GONE_AFTER);
        group.insert(
            stats.name.clone(),
            Member {
                assignment_size: cgrp.assignment_size,
                rebalance_cnt: cgrp.rebalance_cnt,
                state: cgrp.state.clone(),
                at: now,
            },
        );
        group.values().cloned().collect::<Vec<_>>()
    };
    let assigned: i64 = members.iter().map(|m| i64::from(m.assignment_size)).sum();
    gauge!(STREAMS_ASSIGNED_PARTITIONS).set(assigned as f64);
    let rebalances: i64 = members.iter().map(|m| m.rebalance_cnt.max(0)).sum();
    counter!(STREAMS_REBALANCES_TOTAL).absolute(rebalances as u64);
    let mut seen = SEEN_STATES.lock().unwrap_or_else(|p| p.into_inner());
    seen.extend(members.iter().map(|m| m.state.clone()));
    for state in seen.iter() {
        let value = members.iter().filter(|m| m.state == *state).count();
        gauge!(STREAMS_GROUP_STATE, "state" => state.clone()).set(value as f64);
    }
}
