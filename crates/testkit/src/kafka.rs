//! Kafka clients for tests, built through [`ClientSettings`] like every other client.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use metricpipe_kafka::{ClientRole, ClientSettings};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// Settings for `bootstrap` with `properties` (e.g. a secured cluster's SASL settings).
pub fn settings(bootstrap: &str, properties: &[(&str, &str)]) -> ClientSettings {
    ClientSettings::new(bootstrap).layer(properties.iter().copied())
}

/// A client config for `role` on `bootstrap`, `client.id` `metricpipe-test-<role>`, with
/// `properties` over our defaults (none).
pub fn client_config(
    bootstrap: &str,
    role: ClientRole,
    properties: &[(&str, &str)],
) -> ClientConfig {
    settings(bootstrap, properties).config(role, &format!("metricpipe-test-{}", role.name()), &[])
}

/// An admin client.
///
/// # Panics
/// If librdkafka refuses the config.
pub fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    client_config(bootstrap, ClientRole::Admin, &[])
        .create()
        .expect("admin client")
}

/// A producer acknowledged by all in-sync replicas, idempotent, with `properties` on top.
///
/// # Panics
/// If librdkafka refuses the config.
pub fn producer(bootstrap: &str, properties: &[(&str, &str)]) -> BaseProducer {
    let mut props = vec![("acks", "all"), ("enable.idempotence", "true")];
    props.extend_from_slice(properties);
    client_config(bootstrap, ClientRole::Producer, &props)
        .create()
        .expect("producer")
}

/// A consumer in `group` with auto commit off, reading from the earliest offset when the
/// group has none, with `properties` on top.
///
/// # Panics
/// If librdkafka refuses the config.
pub fn consumer(bootstrap: &str, group: &str, properties: &[(&str, &str)]) -> BaseConsumer {
    let mut props = vec![
        ("group.id", group),
        ("enable.auto.commit", "false"),
        ("auto.offset.reset", "earliest"),
    ];
    props.extend_from_slice(properties);
    client_config(bootstrap, ClientRole::Consumer, &props)
        .create()
        .expect("consumer")
}

/// Creates `names` with `partitions` and `replication`, plus topic `configs`.
///
/// # Panics
/// If any topic cannot be created (it exists already, too few brokers, …).
pub fn create_topics(
    bootstrap: &str,
    names: &[&str],
    partitions: i32,
    replication: i32,
    configs: &[(&str, &str)],
) {
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|n| {
            let mut t = NewTopic::new(n, partitions, TopicReplication::Fixed(replication));
            for (k, v) in configs {
                t = t.set(k, v);
            }
            t
        })
        .collect();
    let results = runtime()
        .block_on(admin(bootstrap).create_topics(&topics, &AdminOptions::new()))
        .expect("create topics");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating {t}: {e}"));
    }
}

/// A current-thread runtime for the admin client's futures.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Sends `values` to `topic` (partitioner's choice), in order, and waits for every
/// acknowledgement (all in-sync replicas).
///
/// # Panics
/// If a record is refused or not acknowledged within 60 s.
pub fn produce<V: AsRef<[u8]>>(bootstrap: &str, topic: &str, values: &[V]) {
    let records: Vec<(Option<&[u8]>, &[u8])> = values.iter().map(|v| (None, v.as_ref())).collect();
    send_all(bootstrap, topic, None, &records);
}

/// Like [`produce`], each record with its key.
///
/// # Panics
/// As [`produce`].
pub fn produce_keyed<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    bootstrap: &str,
    topic: &str,
    records: &[(K, V)],
) {
    let records: Vec<(Option<&[u8]>, &[u8])> = records
        .iter()
        .map(|(k, v)| (Some(k.as_ref()), v.as_ref()))
        .collect();
    send_all(bootstrap, topic, None, &records);
}

/// Like [`produce`], every record to `partition`.
///
/// # Panics
/// As [`produce`].
pub fn produce_to<V: AsRef<[u8]>>(bootstrap: &str, topic: &str, partition: i32, values: &[V]) {
    let records: Vec<(Option<&[u8]>, &[u8])> = values.iter().map(|v| (None, v.as_ref())).collect();
    send_all(bootstrap, topic, Some(partition), &records);
}

fn send_all(
    bootstrap: &str,
    topic: &str,
    partition: Option<i32>,
    records: &[(Option<&[u8]>, &[u8])],
) {
    let producer = producer(bootstrap, &[("message.timeout.ms", "60000")]);
    for (key, value) in records {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic).payload(*value);
        if let Some(k) = key {
            record = record.key(*k);
        }
        if let Some(p) = partition {
            record = record.partition(p);
        }
        // A full queue is back-pressure, not an error: serve it and send again.
        while let Err((e, back)) = producer.send(record) {
            assert!(
                matches!(
                    e,
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull
                    )
                ),
                "sending to {topic}: {e}"
            );
            record = back;
            producer.poll(Duration::from_millis(10));
        }
    }
    producer
        .flush(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("flushing to {topic}: {e}"));
}

/// Reads every partition of `topic` from the beginning to its end offsets as of the call,
/// handing each record to `f`.
///
/// # Panics
/// If the end is not reached within `timeout`, or the topic has no partitions.
pub fn read_topic(
    bootstrap: &str,
    topic: &str,
    timeout: Duration,
    mut f: impl FnMut(&BorrowedMessage<'_>),
) {
    let consumer = consumer(
        bootstrap,
        "metricpipe-test-reader",
        &[
            ("fetch.max.bytes", "52428800"),
            ("max.partition.fetch.bytes", "8388608"),
            ("log_level", "3"),
        ],
    );
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .expect("metadata");
    let partitions: Vec<i32> = md.topics()[0].partitions().iter().map(|p| p.id()).collect();
    assert!(!partitions.is_empty(), "topic {topic} has no partitions");
    let mut remaining: HashMap<i32, i64> = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, timeout)
            .expect("watermarks");
        if high > low {
            remaining.insert(p, high);
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .expect("assign");
        }
    }
    if remaining.is_empty() {
        return;
    }
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + timeout;
    while !remaining.is_empty() {
        assert!(
            Instant::now() < deadline,
            "reading {topic} did not reach its end within {timeout:?}"
        );
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let Some(&end) = remaining.get(&m.partition()) else {
            continue;
        };
        if m.offset() < end {
            f(&m);
        }
        if m.offset() + 1 >= end {
            remaining.remove(&m.partition());
        }
    }
}
