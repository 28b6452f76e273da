//! Streams' consumer-side gauges from librdkafka's statistics (`statistics.interval.ms`):
//! lag per partition, the size of the assignment, the consumer group state and the
//! rebalance count. Kept here so the streams runtime hands over the statistics in one call.

use std::collections::BTreeSet;
use std::sync::Mutex;

use metrics::{counter, gauge};
use rdkafka::statistics::Statistics;

/// Group states already exported, so that leaving one sets its series to 0 instead of
/// leaving a stale 1 behind.
static SEEN_STATES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Export one statistics report of a consumer:
///
/// - `metricpipe_streams_consumer_lag{topic,partition}`: librdkafka's `consumer_lag` of each
///   partition it knows one for (it reports -1 while unknown; those are skipped);
/// - `metricpipe_streams_assigned_partitions`: `cgrp.assignment_size`;
/// - `metricpipe_streams_group_state{state}`: 1 for `cgrp.state` (`up` once the member has
///   joined and is assigned, `wait-join`, `wait-coord`, ...), 0 for every other state seen;
/// - `metricpipe_streams_rebalances_total`: `cgrp.rebalance_cnt`.
///
/// Field meanings: librdkafka's STATISTICS.md.
pub fn record_consumer_statistics(stats: &Statistics) {
    for (topic, t) in &stats.topics {
        for (&partition, p) in &t.partitions {
            if partition >= 0 && p.consumer_lag >= 0 {
                gauge!("metricpipe_streams_consumer_lag", "topic" => topic.clone(), "partition" => partition.to_string())
                    .set(p.consumer_lag as f64);
            }
        }
    }
    let Some(cgrp) = &stats.cgrp else { return };
    gauge!("metricpipe_streams_assigned_partitions").set(f64::from(cgrp.assignment_size));
    if cgrp.rebalance_cnt >= 0 {
        counter!("metricpipe_streams_rebalances_total").absolute(cgrp.rebalance_cnt as u64);
    }
    let mut seen = SEEN_STATES.lock().unwrap_or_else(|p| p.into_inner());
    seen.insert(cgrp.state.clone());
    for state in seen.iter() {
        let value = if *state == cgrp.state { 1.0 } else { 0.0 };
        gauge!("metricpipe_streams_group_state", "state" => state.clone()).set(value);
    }
}
