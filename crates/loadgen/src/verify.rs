//! Counting ids on a topic: how many records, how many distinct events, how many duplicates.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use metricpipe_kafka::{ClientRole, ClientSettings};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use crate::LoadgenError;

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow)]
    event: Option<EventProbe<'a>>,
    #[serde(borrow)]
    host: Option<HostProbe<'a>>,
    #[serde(borrow, rename = "@timestamp")]
    at_timestamp: Option<&'a str>,
    #[serde(borrow)]
    timestamp: Option<&'a str>,
    /// An alert is the host object itself, so its name is at the top.
    #[serde(borrow)]
    name: Option<&'a str>,
}

#[derive(Deserialize)]
struct EventProbe<'a> {
    #[serde(borrow)]
    id: Option<&'a str>,
}

#[derive(Deserialize)]
struct HostProbe<'a> {
    #[serde(borrow)]
    name: Option<&'a str>,
    /// Alerts carry the event's timestamp inside the host object.
    #[serde(borrow)]
    timestamp: Option<&'a str>,
}

/// The identity of a record made by loadgen: `event.id` for events (and so for everything routing
/// forwards), `"<host.name>@<timestamp>"` for alerts, which keep only the host object and the
/// timestamp. `None` for a record that is not such JSON.
pub fn record_key(value: &[u8]) -> Option<String> {
    let p: Probe<'_> = serde_json::from_slice(value).ok()?;
    if let Some(id) = p.event.as_ref().and_then(|e| e.id) {
        return Some(id.to_string());
    }
    if let Some(host) = p.host {
        let ts = host.timestamp.or(p.timestamp).or(p.at_timestamp)?;
        return Some(format!("{}@{}", host.name?, ts));
    }
    Some(format!("{}@{}", p.name?, p.timestamp?))
}

/// The alert key loadgen's event would produce: `"<host.name>@<@timestamp>"`.
pub fn alert_key_of_event(value: &[u8]) -> Option<String> {
    let p: Probe<'_> = serde_json::from_slice(value).ok()?;
    Some(format!("{}@{}", p.host?.name?, p.at_timestamp?))
}

/// What a topic holds, by id.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IdCount {
    pub topic: String,
    pub records: u64,
    pub distinct: u64,
    /// Records whose id was seen before.
    pub duplicates: u64,
    /// Records with no recognisable id (not loadgen's, or not JSON).
    pub unkeyed: u64,
    #[serde(skip)]
    pub ids: HashSet<String>,
}

impl IdCount {
    /// How many of the ids `"<seed>-<first_seq>"` .. `"<seed>-<first_seq + count - 1>"` are absent.
    pub fn missing_seq(&self, seed: u64, first_seq: u64, count: u64) -> u64 {
        (first_seq..first_seq + count)
            .filter(|n| !self.ids.contains(&format!("{seed}-{n}")))
            .count() as u64
    }

    /// How many of `expected` are absent.
    pub fn missing_of<'a>(&self, expected: impl IntoIterator<Item = &'a String>) -> u64 {
        expected
            .into_iter()
            .filter(|k| !self.ids.contains(*k))
            .count() as u64
    }
}

/// Read `topic` from the beginning up to its end offsets as of the call, counting ids with
/// [`record_key`]. Fails if the end is not reached within `timeout`.
pub fn count_ids(
    bootstrap_servers: &str,
    topic: &str,
    timeout: Duration,
) -> Result<IdCount, LoadgenError> {
    scan(bootstrap_servers, topic, timeout, record_key)
}

/// Like [`count_ids`] with a key function of your own.
pub fn scan(
    bootstrap_servers: &str,
    topic: &str,
    timeout: Duration,
    mut key: impl FnMut(&[u8]) -> Option<String>,
) -> Result<IdCount, LoadgenError> {
    let kafka = |what: &str| {
        let what = what.to_string();
        move |source| LoadgenError::Kafka { what, source }
    };
    let consumer: BaseConsumer = ClientSettings::new(bootstrap_servers)
        .client_config(
            ClientRole::Consumer,
            [
                ("group.id", "metricpipe-loadgen-verify"),
                ("enable.auto.commit", "false"),
                ("enable.partition.eof", "false"),
                ("fetch.max.bytes", "52428800"),
                ("log_level", "3"),
            ],
        )
        .create()
        .map_err(kafka("creating the verifying consumer"))?;
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(kafka("reading the topic's metadata"))?;
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(LoadgenError::NoTopic {
            topic: topic.into(),
            bootstrap: bootstrap_servers.into(),
        });
    }
    let mut remaining: HashMap<i32, i64> = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for &p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, timeout)
            .map_err(kafka("reading end offsets"))?;
        if high > low {
            remaining.insert(p, high);
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(kafka("assigning partitions"))?;
        }
    }
    let mut count = IdCount {
        topic: topic.into(),
        ..IdCount::default()
    };
    if remaining.is_empty() {
        return Ok(count);
    }
    consumer
        .assign(&tpl)
        .map_err(kafka("assigning partitions"))?;
    let deadline = Instant::now() + timeout;
    while !remaining.is_empty() {
        if Instant::now() > deadline {
            return Err(LoadgenError::Timeout {
                what: format!(
                    "reading {topic} to its end ({} records read, {} partitions unfinished)",
                    count.records,
                    remaining.len()
                ),
                waited: timeout,
            });
        }
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg.map_err(kafka("consuming"))?;
        let Some(&end) = remaining.get(&msg.partition()) else {
            continue;
        };
        if msg.offset() >= end {
            remaining.remove(&msg.partition());
            continue;
        }
        count.records += 1;
        match msg.payload().and_then(&mut key) {
            Some(k) => {
                if count.ids.insert(k) {
                    count.distinct += 1;
                } else {
                    count.duplicates += 1;
                }
            }
            None => count.unkeyed += 1,
        }
        if msg.offset() + 1 >= end {
            remaining.remove(&msg.partition());
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_events_and_alerts() {
        let event = br#"{"@timestamp":"2025-12-28T04:56:17.004Z","event":{"id":"7-12"},"host":{"name":"h"}}"#;
        assert_eq!(record_key(event).as_deref(), Some("7-12"));
        assert_eq!(
            alert_key_of_event(event).as_deref(),
            Some("h@2025-12-28T04:56:17.004Z")
        );
        let alert = br#"{"cpu":{"usage":0.9},"name":"h","timestamp":"2025-12-28T04:56:17.004Z"}"#;
        assert_eq!(
            record_key(alert).as_deref(),
            Some("h@2025-12-28T04:56:17.004Z")
        );
        assert_eq!(record_key(b"not json"), None);
        assert_eq!(record_key(br#"{"host":{"name":"h"}}"#), None);
    }

    #[test]
    fn missing_counts_absent_ids() {
        let mut c = IdCount::default();
        c.ids.insert("3-0".into());
        c.ids.insert("3-2".into());
        assert_eq!(c.missing_seq(3, 0, 4), 2);
        assert_eq!(c.missing_of(&["3-0".to_string(), "x".to_string()]), 1);
    }
}
