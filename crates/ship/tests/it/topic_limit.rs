//! The agent's sink against a real 3-node cluster whose topic has a small
//! `max.message.bytes`: a backlog of events that each fit must all arrive (issue #21).
//! Before the fix librdkafka built batches of up to 1 MB, the brokers refused them as
//! too large, and every event in them was failed.
//!
//! `flock /tmp/kafka.lock cargo test -p metricpipe-ship --test it topic_limit`

use std::collections::HashSet;
use std::time::{Duration, Instant};

use metricpipe_ship::{KafkaSink, Partitioning, Record, SinkConfig};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

const EVENTS: usize = 3_000;

fn create_topic(bootstrap: &str, topic: &str, max_message_bytes: &str) {
    let admin: AdminClient<DefaultClientContext> =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Admin, &[])
            .create()
            .expect("admin client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let t = NewTopic::new(topic, 3, TopicReplication::Fixed(2))
        .set("max.message.bytes", max_message_bytes);
    for r in rt
        .block_on(admin.create_topics([&t], &AdminOptions::new()))
        .expect("create")
    {
        r.unwrap_or_else(|(t, e)| panic!("creating {t}: {e}"));
    }
}

fn ids_in(bootstrap: &str, topic: &str, expected: usize) -> HashSet<String> {
    let consumer: BaseConsumer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Consumer, &[])
            .set("group.id", "topic-limit-reader")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&tpl).expect("assign");
    let mut ids = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ids.len() < expected && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let v = m.payload().unwrap_or_default();
            ids.insert(String::from_utf8_lossy(&v[..v.len().min(12)]).into_owned());
        }
    }
    ids
}

#[test]
fn a_backlog_of_events_that_fit_all_arrive_under_a_small_topic_limit() {
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let topic = format!("metric.all.limit.{}", std::process::id());
    create_topic(&bootstrap, &topic, "16384");
    let sink = KafkaSink::start(SinkConfig {
        hosts: bootstrap.split(',').map(String::from).collect(),
        compression: "none".into(),
        compression_level: None,
        queue_capacity: EVENTS + 100,
        partitioning: Partitioning::Random { group_events: 1 },
        ..SinkConfig::default()
    })
    .expect("sink");
    // A backlog, as after an outage: ~1 KB events, so 256 in flight make 256 KB batches.
    for i in 0..EVENTS {
        let mut payload = format!("{i:012}").into_bytes();
        payload.resize(1_000, b'x');
        sink.send(Record {
            topic: topic.clone(),
            payload,
            metricset: "cpu",
        });
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(90);
    while Instant::now() < deadline {
        let s = sink.stats();
        if s.sent + s.failed + s.dropped >= EVENTS as u64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = started.elapsed();
    let s = sink.shutdown(Duration::from_secs(10));
    let ids = ids_in(&bootstrap, &topic, EVENTS);
    eprintln!(
        "DRILL agent-limit: {EVENTS} events of 1000 bytes, max.message.bytes=16384: sent={} failed={} dropped={} retried={} distinct in topic={} in {:.1}s",
        s.sent,
        s.failed,
        s.dropped,
        s.retried,
        ids.len(),
        took.as_secs_f64()
    );
    assert_eq!(
        (s.sent, s.failed, s.dropped),
        (EVENTS as u64, 0, 0),
        "{s:?}"
    );
    assert_eq!(ids.len(), EVENTS, "every event is in the topic");
}

/// The error table's `UNKNOWN_TOPIC_OR_PARTITION` row: events for a topic that does not
/// exist yet wait in the queue and arrive once it is created (the Java producer retries
/// them until its delivery timeout; before, the agent failed them).
#[test]
fn events_for_a_topic_created_later_arrive() {
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let topic = format!("metric.all.later.{}", std::process::id());
    let sink = KafkaSink::start(SinkConfig {
        hosts: bootstrap.split(',').map(String::from).collect(),
        compression: "none".into(),
        compression_level: None,
        message_timeout: Duration::from_secs(5),
        // librdkafka fails records for a topic missing from the metadata after this.
        properties: vec![("topic.metadata.propagation.max.ms".into(), "1000".into())],
        ..SinkConfig::default()
    })
    .expect("sink");
    for i in 0..100 {
        sink.send(Record {
            topic: topic.clone(),
            payload: format!("{i:012}").into_bytes(),
            metricset: "cpu",
        });
    }
    std::thread::sleep(Duration::from_secs(4));
    let before = sink.stats();
    create_topic(&bootstrap, &topic, "1048588");
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.stats().sent < 100 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let s = sink.shutdown(Duration::from_secs(10));
    let ids = ids_in(&bootstrap, &topic, 100);
    eprintln!(
        "DRILL agent-unknown-topic: 100 events before the topic existed: retried before it was created={} sent={} failed={} distinct in topic={}",
        before.retried,
        s.sent,
        s.failed,
        ids.len()
    );
    assert!(
        before.retried > 0,
        "librdkafka never reported the missing topic: {before:?}"
    );
    // A missing topic is refused at once by librdkafka: the sink must wait, not spin
    // (146,216 retries in these 4 s before it did).
    assert!(before.retried < 2_000, "spinning: {before:?}");
    assert_eq!((s.sent, s.failed, s.dropped), (100, 0, 0), "{s:?}");
    assert_eq!(ids.len(), 100);
}
