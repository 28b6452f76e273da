//! End offsets of the bench's topics: how many records a contender has written.

use std::collections::HashMap;
use std::time::Duration;

use metricpipe_kafka::{ClientRole, ClientSettings};
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::BenchError;

/// Reads end offsets; the sum over a topic's partitions is its record count on a fresh cluster.
pub struct Offsets {
    consumer: BaseConsumer,
    partitions: HashMap<String, Vec<i32>>,
}

impl Offsets {
    pub fn new(bootstrap: &str) -> Result<Self, BenchError> {
        let consumer = ClientSettings::new(bootstrap)
            .client_config(
                ClientRole::Consumer,
                [("group.id", "metricpipe-bench-watch"), ("log_level", "3")],
            )
            .create()
            .map_err(|source| BenchError::Kafka {
                what: "creating the offset watcher",
                source,
            })?;
        Ok(Offsets {
            consumer,
            partitions: HashMap::new(),
        })
    }

    /// Sum of the end offsets of `topic`'s partitions.
    pub fn end(&mut self, topic: &str) -> Result<i64, BenchError> {
        Ok(self.ends(topic)?.iter().map(|(_, high)| high).sum())
    }

    /// `(partition, end offset)` of each of `topic`'s partitions.
    pub fn ends(&mut self, topic: &str) -> Result<Vec<(i32, i64)>, BenchError> {
        let timeout = Duration::from_secs(10);
        if !self.partitions.contains_key(topic) {
            let md = self
                .consumer
                .fetch_metadata(Some(topic), timeout)
                .map_err(|source| BenchError::Kafka {
                    what: "reading metadata",
                    source,
                })?;
            let ps: Vec<i32> = md
                .topics()
                .iter()
                .filter(|t| t.name() == topic && t.error().is_none())
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            if ps.is_empty() {
                return Err(BenchError::Setup(format!(
                    "topic {topic} has no partitions"
                )));
            }
            self.partitions.insert(topic.to_string(), ps);
        }
        let mut ends = Vec::new();
        for &p in &self.partitions[topic] {
            let (_, high) =
                self.consumer
                    .fetch_watermarks(topic, p, timeout)
                    .map_err(|source| BenchError::Kafka {
                        what: "reading end offsets",
                        source,
                    })?;
            ends.push((p, high));
        }
        Ok(ends)
    }

    pub fn end_sum(&mut self, topics: &[String]) -> Result<i64, BenchError> {
        let mut sum = 0;
        for t in topics {
            sum += self.end(t)?;
        }
        Ok(sum)
    }
}
