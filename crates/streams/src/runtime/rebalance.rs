//! The consumer's context: rebalances, client errors, statistics, commit results.
//!
//! On revoke, the revoked partitions' outputs are drained and their points committed
//! before the next owner starts, so a rebalance neither loses nor duplicates; then their
//! tracks go. On assign, each partition's track starts at the group's committed offset, so
//! a first record past it (retention deleted the committed offset) shows as a skip.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tracing::{info, warn};

use super::commit::{CommitKind, CommitOutcome};
use super::lock;
use super::offsets::OffsetTracker;
use super::shared::Shared;
use super::sink::Sink;
use super::transaction;

pub struct ConsumerCtx {
    pub shared: Arc<Shared>,
    pub sink: Mutex<Option<Arc<Sink>>>,
    /// exactly_once_v2: the offsets are committed by the transactional producer.
    pub transactional: bool,
}

pub type StreamsConsumer = BaseConsumer<ConsumerCtx>;

pub fn partitions(tpl: &TopicPartitionList) -> Vec<(String, i32)> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect()
}

pub fn describe(tpl: &TopicPartitionList) -> String {
    tpl.elements()
        .iter()
        .map(|e| format!("{}[{}]", e.topic(), e.partition()))
        .collect::<Vec<_>>()
        .join(",")
}

impl ClientContext for ConsumerCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.shared.client_log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.shared.client_error("consumer", &error, reason);
    }

    fn stats(&self, mut statistics: Statistics) {
        if self.transactional {
            lag_from_transactions(&mut statistics, &self.shared.state().tracker);
        }
        // Lag, assignment, group state and rebalances (ship's telemetry owns them).
        metricpipe_telemetry::record_consumer_statistics(&statistics);
    }
}

impl ConsumerContext for ConsumerCtx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        let sink = lock(&self.sink).clone();
        let Some(sink) = sink else {
            return;
        };
        let revoked_list = partitions(revoked);
        sink.drain(Instant::now() + sink.drain_timeout());
        let outcome = sink.commit_before_leaving(consumer, CommitKind::Revoke, Some(&revoked_list));
        if let CommitOutcome::Aborted(to) = outcome {
            // The partitions kept (cooperative assignors) process the aborted input again;
            // the revoked ones' next owner does.
            let kept: Vec<_> = to
                .into_iter()
                .filter(|e| {
                    !revoked_list
                        .iter()
                        .any(|(t, p)| *t == e.topic && *p == e.partition)
                })
                .collect();
            transaction::rewind(consumer, &self.shared, &kept);
        }
        self.shared.state().tracker.revoke(&revoked_list);
        info!(partitions = %describe(revoked), "partitions revoked after committing");
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                self.start_tracks(consumer, tpl);
                info!(partitions = %describe(tpl), "partitions assigned");
            }
            Rebalance::Error(e) => warn!(error = %e, "rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }

    /// Not called for asynchronous commits with rust-rdkafka 0.38 (see `commit`); kept
    /// for the versions that do.
    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(e) = result {
            if !matches!(e, KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) {
                warn!(error = %e, partitions = %describe(offsets), "offset commit failed; the next commit carries them");
                self.shared
                    .state()
                    .tracker
                    .commit_failed(&partitions(offsets));
            }
        }
    }
}

/// Under exactly-once the transactional producer commits the offsets, which librdkafka's
/// consumer never hears of: its `consumer_lag` (the end less the committed offset it read
/// at assignment) would only grow. The lag of a partition is taken from the transactions'
/// commit points instead, with librdkafka's formula: the last stable offset (the end under
/// read_committed) less the committed offset, when not past it.
fn lag_from_transactions(stats: &mut Statistics, tracker: &OffsetTracker) {
    for (topic, t) in stats.topics.iter_mut() {
        for (&partition, p) in t.partitions.iter_mut() {
            let committed = tracker.committed(topic, partition);
            if let Some(c) = committed.filter(|&c| c >= 0 && c <= p.ls_offset) {
                p.consumer_lag = p.ls_offset - c;
            }
        }
    }
}

impl ConsumerCtx {
    /// Starts each assigned partition's track at the group's committed offset (none for
    /// a partition the group never committed: its first record sets the position).
    fn start_tracks(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let committed = consumer
            .committed_offsets(tpl.clone(), Duration::from_secs(10))
            .unwrap_or_else(|e| {
                warn!(error = %e, "reading the committed offsets failed; skipped offsets go unreported");
                tpl.clone()
            });
        let tracker = &mut self.shared.state().tracker;
        for e in committed.elements() {
            let position = match e.offset() {
                Offset::Offset(o) if o >= 0 => Some(o),
                _ => None,
            };
            tracker.assign(e.topic(), e.partition(), position);
        }
    }
}
