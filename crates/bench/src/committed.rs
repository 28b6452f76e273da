//! Counting the output of a transactional contender (`exactly_once_v2`).
//!
//! Under exactly-once every transaction commit writes a marker (a control record) to each
//! partition the transaction wrote to, and an aborted transaction leaves its records in the
//! log: end offsets then count more than a read_committed reader sees. The at-least-once
//! contenders keep being watched by end offsets; for transactional ones the bench uses two
//! counts that stay exact:
//! - while the contender runs, its consumer group's committed offsets on the input topic
//!   ([`InputProgress`]). Under KIP-447 they are committed in the transaction that wrote their
//!   outputs, so once they reach the backlog's end, every output is committed and visible. It
//!   is one OffsetFetch per look, as cheap as the end offsets, and no reader of the outputs
//!   competes with the contender for the cores while it is timed;
//! - after the contender has stopped, its outputs and alerts read with
//!   `isolation.level=read_committed` from where they stood before it started
//!   ([`count_committed`]): records only, no markers, no aborted records.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use metricpipe_kafka::{ClientRole, ClientSettings};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

use crate::contender::{Contender, Guarantee, INPUT_TOPIC};
use crate::offsets::Offsets;
use crate::BenchError;

/// How long the read_committed count waits for open transactions to end: longer than the
/// 60 s transaction time-out of `metricpipe streams`, after which the coordinator aborts a
/// transaction left open by a killed instance.
const COUNT_TIMEOUT: Duration = Duration::from_secs(90);

/// Sum of committed offsets, one per partition; a partition with no committed offset
/// (`Offset::Invalid`) counts as 0 records processed.
pub fn committed_sum(offsets: impl IntoIterator<Item = Offset>) -> i64 {
    offsets
        .into_iter()
        .map(|o| match o {
            Offset::Offset(n) if n > 0 => n,
            _ => 0,
        })
        .sum()
}

/// A consumer group's committed offsets on one topic: how many of its records the group has
/// processed (on a topic written without transactions, as the backlog is).
pub struct InputProgress {
    consumer: BaseConsumer,
    partitions: TopicPartitionList,
    last: i64,
}

impl InputProgress {
    /// Looks at `group`'s offsets on `topic`'s `partitions`; it never joins the group.
    pub fn new(
        bootstrap: &str,
        group: &str,
        topic: &str,
        partitions: impl IntoIterator<Item = i32>,
    ) -> Result<Self, BenchError> {
        let consumer: BaseConsumer = ClientSettings::new(bootstrap)
            .client_config(
                ClientRole::Consumer,
                [
                    ("group.id", group),
                    ("enable.auto.commit", "false"),
                    // read_uncommitted: the broker answers with the last committed offsets at
                    // once instead of waiting out a transaction whose offsets are still pending.
                    ("isolation.level", "read_uncommitted"),
                    ("log_level", "3"),
                ],
            )
            .create()
            .map_err(|source| BenchError::Kafka {
                what: "creating the committed-offset watcher",
                source,
            })?;
        let mut tpl = TopicPartitionList::new();
        for p in partitions {
            tpl.add_partition(topic, p);
        }
        Ok(InputProgress {
            consumer,
            partitions: tpl,
            last: 0,
        })
    }

    /// Records processed and committed so far; the last answer again while the group
    /// coordinator does not answer (it moves, or loads the group).
    pub fn processed(&mut self) -> i64 {
        if let Ok(tpl) = self
            .consumer
            .committed_offsets(self.partitions.clone(), Duration::from_secs(5))
        {
            self.last = committed_sum(tpl.elements().iter().map(|e| e.offset()));
        }
        self.last
    }
}

/// Where a read starts: a topic's partition and the first offset to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadStart {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// A read of several partitions up to the ends they had when it began: records counted per
/// topic, and which partitions the reader's position has reached. Positions, not records,
/// say when a partition is read: the last offsets of a transactional partition are a
/// marker, which no reader is given as a record.
#[derive(Debug, Default)]
pub struct ReadTally {
    ends: HashMap<(String, i32), i64>,
    reached: HashSet<(String, i32)>,
    records: HashMap<String, u64>,
}

impl ReadTally {
    /// Reads `topic`'s `partition` from `start` to `end` (exclusive).
    pub fn expect(&mut self, topic: &str, partition: i32, start: i64, end: i64) {
        let key = (topic.to_string(), partition);
        if start >= end {
            self.reached.insert(key.clone());
        }
        self.ends.insert(key, end);
        self.records.entry(topic.to_string()).or_insert(0);
    }

    /// A record the reader was given; records at or past the partition's end (written after
    /// the read began) are not counted.
    pub fn record(&mut self, topic: &str, partition: i32, offset: i64) {
        let key = (topic.to_string(), partition);
        if self.ends.get(&key).is_some_and(|&end| offset < end) {
            *self.records.entry(key.0).or_insert(0) += 1;
        }
    }

    /// The reader's position (the next offset it would read) on a partition.
    pub fn position(&mut self, topic: &str, partition: i32, position: i64) {
        let key = (topic.to_string(), partition);
        if self.ends.get(&key).is_some_and(|&end| position >= end) {
            self.reached.insert(key);
        }
    }

    pub fn done(&self) -> bool {
        self.ends.keys().all(|k| self.reached.contains(k))
    }

    /// Records counted on `topic`.
    pub fn records(&self, topic: &str) -> u64 {
        self.records.get(topic).copied().unwrap_or(0)
    }

    /// `topic[partition]` of each partition not read to its end yet, sorted.
    pub fn unfinished(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .ends
            .keys()
            .filter(|k| !self.reached.contains(*k))
            .map(|(t, p)| format!("{t}[{p}]"))
            .collect();
        v.sort();
        v
    }
}

/// The counter's client context: rust-rdkafka hands every consumer error event to the
/// context as a global error before `poll` returns it, and a partition's end is one of them
/// here, expected once per partition; the rest are logged as rust-rdkafka's default does.
struct QuietPartitionEnd;

impl ClientContext for QuietPartitionEnd {
    fn error(&self, error: KafkaError, reason: &str) {
        if error != KafkaError::Global(RDKafkaErrorCode::PartitionEOF) {
            tracing::error!("librdkafka: {error}: {reason}");
        }
    }
}

impl ConsumerContext for QuietPartitionEnd {}

/// Reads each start's partition from its offset to the partition's end now, with
/// `isolation.level=read_committed`, and counts the records per topic. Waits up to `timeout`
/// for open transactions to end; then returns what it read ([`ReadTally::done`] false).
pub fn count_committed(
    bootstrap: &str,
    starts: &[ReadStart],
    timeout: Duration,
) -> Result<ReadTally, BenchError> {
    let kafka = |what: &'static str| move |source| BenchError::Kafka { what, source };
    let consumer: BaseConsumer<QuietPartitionEnd> = ClientSettings::new(bootstrap)
        .client_config(
            ClientRole::Consumer,
            [
                ("group.id", "metricpipe-bench-count"),
                ("enable.auto.commit", "false"),
                ("enable.partition.eof", "true"),
                ("isolation.level", "read_committed"),
                ("log_level", "3"),
            ],
        )
        .create_with_context(QuietPartitionEnd)
        .map_err(kafka("creating the read_committed counter"))?;
    let mut tally = ReadTally::default();
    let mut tpl = TopicPartitionList::new();
    for s in starts {
        let (_, end) = consumer
            .fetch_watermarks(&s.topic, s.partition, Duration::from_secs(10))
            .map_err(kafka("reading end offsets"))?;
        tally.expect(&s.topic, s.partition, s.offset, end);
        tpl.add_partition_offset(&s.topic, s.partition, Offset::Offset(s.offset))
            .map_err(kafka("assigning partitions"))?;
    }
    consumer
        .assign(&tpl)
        .map_err(kafka("assigning partitions"))?;
    let deadline = Instant::now() + timeout;
    while !tally.done() && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => tally.record(m.topic(), m.partition(), m.offset()),
            // A partition at its end (the last stable offset under read_committed), or
            // nothing to read: whether the positions passed the trailing markers says more.
            Some(Err(KafkaError::PartitionEOF(_))) | None => {
                if let Ok(positions) = consumer.position() {
                    for e in positions.elements() {
                        if let Offset::Offset(o) = e.offset() {
                            tally.position(e.topic(), e.partition(), o);
                        }
                    }
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "reading the outputs read_committed"),
        }
    }
    Ok(tally)
}

/// What the bench keeps for a transactional contender: where its outputs and alerts stood
/// before it started, and its group's progress on the input.
pub struct TransactionalWatch {
    starts: Vec<ReadStart>,
    input: InputProgress,
    outputs: Vec<String>,
    alerts: Option<String>,
}

impl TransactionalWatch {
    /// `None` for a contender that does not run under exactly-once. `group` is its
    /// application id (Kafka Streams' consumer group id).
    pub fn start(
        bootstrap: &str,
        c: &Contender,
        group: &str,
        offsets: &mut Offsets,
    ) -> Result<Option<Self>, BenchError> {
        if c.guarantee != Guarantee::ExactlyOnceV2 {
            return Ok(None);
        }
        let mut starts = Vec::new();
        for topic in c.outputs.iter().chain(&c.alerts) {
            for (partition, offset) in offsets.ends(topic)? {
                starts.push(ReadStart {
                    topic: topic.clone(),
                    partition,
                    offset,
                });
            }
        }
        let input_partitions = offsets.ends(INPUT_TOPIC)?.into_iter().map(|(p, _)| p);
        Ok(Some(TransactionalWatch {
            starts,
            input: InputProgress::new(bootstrap, group, INPUT_TOPIC, input_partitions)?,
            outputs: c.outputs.clone(),
            alerts: c.alerts.clone(),
        }))
    }

    /// Input records processed in committed transactions.
    pub fn processed(&mut self) -> i64 {
        self.input.processed()
    }

    /// The output records and alerts a read_committed reader sees, counted once the
    /// contender has stopped.
    pub fn count(
        &self,
        bootstrap: &str,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<(u64, Option<u64>), BenchError> {
        let started = Instant::now();
        let tally = count_committed(bootstrap, &self.starts, COUNT_TIMEOUT)?;
        let outputs = self.outputs.iter().map(|t| tally.records(t)).sum();
        progress(&format!(
            "  read_committed count: {outputs} output records in {:.1} s{}",
            started.elapsed().as_secs_f64(),
            if tally.done() {
                String::new()
            } else {
                format!(
                    " (not read to the end, open transactions on {})",
                    tally.unfinished().join(", ")
                )
            }
        ));
        Ok((outputs, self.alerts.as_ref().map(|t| tally.records(t))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_offsets_sum_with_missing_ones_as_zero() {
        let offsets = [
            Offset::Offset(120),
            Offset::Invalid,
            Offset::Offset(0),
            Offset::Offset(30),
        ];
        assert_eq!(committed_sum(offsets), 150);
        assert_eq!(committed_sum([]), 0);
    }

    #[test]
    fn a_partition_is_read_when_the_position_passes_its_trailing_marker() {
        let mut t = ReadTally::default();
        // Offsets 10..13: records at 10 and 11, a commit marker at 12.
        t.expect("metric.cpu", 0, 10, 13);
        t.expect("metric.cpu", 1, 5, 5);
        t.expect("metric.memory", 0, 0, 4);
        assert!(!t.done());
        t.record("metric.cpu", 0, 10);
        t.record("metric.cpu", 0, 11);
        t.position("metric.cpu", 0, 12);
        assert!(!t.done(), "the marker at 12 is not passed yet");
        assert_eq!(t.unfinished(), ["metric.cpu[0]", "metric.memory[0]"]);
        t.position("metric.cpu", 0, 13);
        // An aborted transaction's 2 records and marker, then 1 record: only 1 is given.
        t.record("metric.memory", 0, 3);
        t.position("metric.memory", 0, 4);
        assert!(t.done());
        assert_eq!(t.records("metric.cpu"), 2);
        assert_eq!(t.records("metric.memory"), 1);
        assert_eq!(t.records("metric.cpu.alert"), 0);
    }

    #[test]
    fn records_past_the_end_or_on_other_partitions_are_not_counted() {
        let mut t = ReadTally::default();
        t.expect("out", 0, 0, 2);
        t.record("out", 0, 1);
        t.record("out", 0, 2);
        t.record("out", 1, 0);
        t.record("other", 0, 0);
        t.position("out", 1, 9);
        assert_eq!(t.records("out"), 1);
        assert!(!t.done(), "a position short of the end");
        t.position("out", 0, 3);
        assert!(t.done());
    }
}
