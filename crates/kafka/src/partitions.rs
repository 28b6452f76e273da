//! New partitions of topics a consumer assigned itself (no group), found by polling the
//! metadata: a consumer in a group gets them through a rebalance, one that assigns must
//! look for them itself (`metricpipe tail` without `--group`, `metricpipe top`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};

/// The consumer's position on each assigned partition where it is known: one past the last
/// record or transaction marker it served (librdkafka's `rd_kafka_position`). Partitions
/// with no position yet are left out; an empty list when the consumer has no assignment.
pub fn known_positions<C: ConsumerContext>(consumer: &BaseConsumer<C>) -> TopicPartitionList {
    let mut known = TopicPartitionList::new();
    let Ok(positions) = consumer.position() else {
        return known;
    };
    for e in positions.elements() {
        if let Offset::Offset(o) = e.offset() {
            // Cannot fail: the offset is a plain one.
            let _ = known.add_partition_offset(e.topic(), e.partition(), Offset::Offset(o));
        }
    }
    known
}

/// How often [`PartitionWatch`] reads the metadata: partitions added to a topic are read
/// within this (plus a fetch) of their creation.
pub const PARTITION_WATCH_INTERVAL: Duration = Duration::from_secs(5);

/// The partitions known of some topics, and a periodic look for more.
#[derive(Debug)]
pub struct PartitionWatch {
    topics: Vec<String>,
    known: BTreeSet<(String, i32)>,
    every: Duration,
    last: Instant,
}

impl PartitionWatch {
    /// `known`: the partitions assigned at start.
    pub fn new(topics: &[&str], known: impl IntoIterator<Item = (String, i32)>) -> Self {
        PartitionWatch {
            topics: topics.iter().map(|t| t.to_string()).collect(),
            known: known.into_iter().collect(),
            every: PARTITION_WATCH_INTERVAL,
            last: Instant::now(),
        }
    }

    /// Reads the metadata every [`PARTITION_WATCH_INTERVAL`] (a blocking request of at most
    /// `timeout`) and returns the partitions not seen before; empty between reads and when
    /// the brokers do not answer.
    pub fn poll<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        timeout: Duration,
    ) -> Vec<(String, i32)> {
        if self.last.elapsed() < self.every {
            return Vec::new();
        }
        self.last = Instant::now();
        let mut found = Vec::new();
        for topic in &self.topics {
            let Ok(md) = consumer.fetch_metadata(Some(topic), timeout) else {
                continue;
            };
            for t in md.topics().iter().filter(|t| t.error().is_none()) {
                for p in t.partitions() {
                    found.push((t.name().to_string(), p.id()));
                }
            }
        }
        self.add(found)
    }

    /// [`poll`](Self::poll), then assigns the new partitions to `consumer` (added to its
    /// assignment) from their first record: a partition that did not exist when the
    /// consumer started holds only records written since. Logs what it did.
    pub fn assign_new<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) {
        let new = self.poll(consumer, Duration::from_secs(5));
        if new.is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for (topic, p) in &new {
            if tpl
                .add_partition_offset(topic, *p, Offset::Beginning)
                .is_err()
            {
                return;
            }
        }
        match consumer.incremental_assign(&tpl) {
            Ok(()) => tracing::info!(partitions = ?new, "reading partitions added since the start"),
            Err(e) => {
                // Forget them, so the next look tries again.
                for tp in &new {
                    self.known.remove(tp);
                }
                tracing::warn!(error = %e, "assigning new partitions failed; trying again");
            }
        }
    }

    /// Records `seen` and returns those not known before, sorted.
    pub fn add(&mut self, seen: impl IntoIterator<Item = (String, i32)>) -> Vec<(String, i32)> {
        let mut new: Vec<(String, i32)> = seen
            .into_iter()
            .filter(|tp| self.known.insert(tp.clone()))
            .collect();
        new.sort();
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_partitions_not_seen_before_are_new() {
        let mut w = PartitionWatch::new(&["t"], (0..3).map(|p| ("t".to_string(), p)));
        assert!(w.add((0..3).map(|p| ("t".to_string(), p))).is_empty());
        let new = w.add((0..5).map(|p| ("t".to_string(), p)));
        assert_eq!(new, vec![("t".to_string(), 3), ("t".to_string(), 4)]);
        assert!(w.add((0..5).map(|p| ("t".to_string(), p))).is_empty());
    }
}
