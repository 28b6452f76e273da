//! The sink's unit tests: dead brokers (port 1), no cluster.

use super::*;
use crate::delivery::take_batch;
use crate::queue::{batch_bytes, may_hand_over};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::Partitioner;

fn sink_with_dead_brokers(capacity: usize) -> KafkaSink {
    KafkaSink::start(SinkConfig {
        // Nothing listens on port 1: librdkafka keeps every record until its timeout.
        hosts: vec!["127.0.0.1:1".into()],
        queue_capacity: capacity,
        max_in_flight: 2,
        message_timeout: Duration::from_secs(60),
        ..SinkConfig::default()
    })
    .unwrap()
}

fn record(i: usize) -> Record {
    Record {
        topic: "t".into(),
        payload: format!("{i}").into_bytes(),
        metricset: "cpu",
    }
}

#[test]
fn the_bound_holds_and_drops_are_exact() {
    let sink = sink_with_dead_brokers(10);
    for i in 0..25 {
        sink.send(record(i));
    }
    std::thread::sleep(Duration::from_millis(300));
    let s = sink.stats();
    assert_eq!(s.queued + s.in_flight, 10, "{s:?}");
    assert_eq!(s.dropped, 15, "{s:?}");
    assert_eq!(s.sent, 0);
    let s = sink.shutdown(Duration::from_millis(200));
    assert_eq!(s.dropped, 25, "every event is accounted for: {s:?}");
    assert_eq!(s.queued + s.in_flight, 0);
}

#[test]
fn the_oldest_waiting_record_goes_first() {
    let sink = sink_with_dead_brokers(4);
    for i in 0..6 {
        sink.send(record(i));
    }
    std::thread::sleep(Duration::from_millis(200));
    let q = sink.shared.lock();
    let waiting: Vec<_> = q
        .waiting
        .iter()
        .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
        .collect();
    // Two records are in librdkafka's hands, the two oldest waiting ones were dropped.
    assert_eq!(waiting, vec!["4", "5"]);
    drop(q);
    assert_eq!(sink.shutdown(Duration::from_millis(100)).dropped, 6);
}

#[test]
fn partitioners_spread() {
    let rr = SpreadPartitioner {
        mode: Partitioning::RoundRobin { group_events: 2 },
        count: AtomicU64::new(0),
        current: AtomicUsize::new(0),
    };
    let seq: Vec<i32> = (0..8)
        .map(|_| rr.partition("t", None, 3, |_| true))
        .collect();
    for pair in seq.chunks(2) {
        assert_eq!(pair[0], pair[1]);
    }
    assert_eq!((seq[2] - seq[0]).rem_euclid(3), 1);
    assert_eq!((seq[4] - seq[2]).rem_euclid(3), 1);
    let random = SpreadPartitioner {
        mode: Partitioning::Random { group_events: 1 },
        count: AtomicU64::new(0),
        current: AtomicUsize::new(0),
    };
    let mut seen = [0; 3];
    for _ in 0..300 {
        seen[random.partition("t", None, 3, |_| true) as usize] += 1;
    }
    assert!(seen.iter().all(|n| *n > 50), "{seen:?}");
}

#[test]
fn too_large_records_fail_at_once_and_are_counted() {
    let sink = KafkaSink::start(SinkConfig {
        hosts: vec!["127.0.0.1:1".into()],
        max_message_bytes: 1000,
        ..SinkConfig::default()
    })
    .unwrap();
    sink.send(Record {
        topic: "t".into(),
        payload: vec![b'x'; 5000],
        metricset: "cpu",
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.stats().failed == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let s = sink.shutdown(Duration::from_millis(100));
    assert_eq!(
        (s.failed, s.sent, s.dropped, s.retried),
        (1, 0, 0, 0),
        "{s:?}"
    );
}

#[test]
fn the_bytes_handed_over_stay_within_the_bound() {
    assert!(batch_bound(0, 0, 5_000, 1_000), "one event always goes");
    assert!(batch_bound(1, 500, 400, 1_000));
    assert!(
        !batch_bound(1, 500, 500, 1_000),
        "500 + 500 + a batch header > 1000"
    );
    assert!(batch_bound(3, 10, 10, usize::MAX));
}

#[test]
fn a_refused_batch_lowers_the_bound_once_and_its_events_go_back() {
    let sink = sink_with_dead_brokers(100);
    let shared = sink.shared.clone();
    sink.shutdown(Duration::from_millis(100));
    shared.closing.store(false, Ordering::Relaxed);
    {
        let mut q = shared.lock();
        q.bound = usize::MAX;
        for i in 0..10 {
            q.waiting.push_back(Record {
                topic: "t".into(),
                payload: vec![b'x'; 100 + i],
                metricset: "cpu",
            });
        }
    }
    let held = take_batch(&shared, 256);
    assert_eq!(held.len(), 10);
    let refused = KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
    for h in held {
        shared.returned(h, &refused);
    }
    let q = shared.lock();
    // 10 events of 100-109 bytes plus 21 of framing each: 1,255 bytes were in flight.
    assert_eq!(q.bound, 1_255 / 2);
    assert_eq!(q.waiting.len(), 10, "every event is queued again");
    assert_eq!(q.in_flight_bytes, 0);
    drop(q);
    assert_eq!(shared.failed.load(Ordering::Relaxed), 0);
    let next = take_batch(&shared, 256);
    let bytes: usize = next.iter().map(|h| batch_bytes(&h.record)).sum();
    assert!(bytes + 61 <= 1_255 / 2, "{bytes}");
    // An event refused when it went alone is too large for the topic.
    let mut lone = next.into_iter().next().unwrap();
    lone.alone = true;
    shared.returned(lone, &refused);
    assert_eq!(shared.failed.load(Ordering::Relaxed), 1);
}

#[test]
fn refused_access_and_corrupt_messages_keep_the_event() {
    let sink = sink_with_dead_brokers(100);
    let shared = sink.shared.clone();
    sink.shutdown(Duration::from_millis(100));
    shared.closing.store(false, Ordering::Relaxed);
    shared.lock().bound = usize::MAX;
    for i in 0..2 {
        shared.lock().waiting.push_back(record(i));
    }
    let mut held = take_batch(&shared, 256).into_iter();
    let corrupt = KafkaError::MessageProduction(RDKafkaErrorCode::InvalidMessage);
    shared.returned(held.next().unwrap(), &corrupt);
    assert!(
        may_hand_over(&shared.lock()),
        "a corrupt message is retried at once"
    );
    let denied = KafkaError::MessageProduction(RDKafkaErrorCode::TopicAuthorizationFailed);
    shared.returned(held.next().unwrap(), &denied);
    assert_eq!(shared.failed.load(Ordering::Relaxed), 0);
    assert_eq!(shared.retried.load(Ordering::Relaxed), 2);
    assert_eq!(shared.lock().waiting.len(), 2, "both events are kept");
    assert!(
        take_batch(&shared, 256).is_empty(),
        "nothing is handed over right after an access refusal"
    );
    std::thread::sleep(ACCESS_RETRY + Duration::from_millis(50));
    assert_eq!(
        take_batch(&shared, 256).len(),
        2,
        "tried again after the wait"
    );
}

#[test]
fn no_hosts_is_an_error() {
    let err = KafkaSink::start(SinkConfig::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("output.kafka.hosts"), "{err}");
}
