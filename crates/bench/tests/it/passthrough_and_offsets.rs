//! The ceiling, the offset watcher and the transactional count against a real 3-node cluster.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metricpipe_admin::{create_topics, AdminOptions, TopicSpec};
use metricpipe_bench::committed::{count_committed, InputProgress, ReadStart};
use metricpipe_bench::offsets::Offsets;
use metricpipe_bench::{passthrough, PassthroughOptions};
use metricpipe_loadgen::{count_ids, produce, GenOptions, ProduceOptions, Progress};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

/// Topics of 3 partitions, RF 2, as the bench's.
fn create(bootstrap: &str, names: &[&str]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let topics: Vec<TopicSpec> = names
        .iter()
        .map(|t| TopicSpec {
            name: t.to_string(),
            partitions: 3,
            replication_factor: 2,
        })
        .collect();
    rt.block_on(create_topics(&AdminOptions::new(bootstrap), &topics))
        .unwrap();
}

#[test]
fn the_ceiling_copies_every_record_once_and_the_watcher_sees_them() {
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    create(&bootstrap, &["pt.in", "pt.out"]);

    let mut load = ProduceOptions::new(&bootstrap, "pt.in");
    load.count = Some(3000);
    load.generator = GenOptions {
        seed: 5,
        ..GenOptions::default()
    };
    let summary = produce(&load, Arc::new(Progress::default())).unwrap();
    assert_eq!(summary.delivered, 3000);

    let mut offsets = Offsets::new(&bootstrap).unwrap();
    assert_eq!(offsets.end("pt.in").unwrap(), 3000);
    assert_eq!(offsets.end("pt.out").unwrap(), 0);

    let stop = Arc::new(AtomicBool::new(false));
    let copied = Arc::new(AtomicU64::new(0));
    let worker = {
        let (stop, copied) = (stop.clone(), copied.clone());
        let opts = PassthroughOptions {
            bootstrap_servers: bootstrap.clone(),
            group_id: "pt-test".into(),
            input: "pt.in".into(),
            output: "pt.out".into(),
            properties: vec![("producer.linger.ms".into(), "1".into())],
        };
        std::thread::spawn(move || passthrough(&opts, stop, copied))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while offsets.end("pt.out").unwrap() < 3000 {
        assert!(
            Instant::now() < deadline,
            "the ceiling did not copy 3000 records in 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let n = worker.join().unwrap().unwrap();
    assert_eq!(n, 3000);
    assert_eq!(copied.load(Ordering::Relaxed), 3000);

    let out = count_ids(&bootstrap, "pt.out", Duration::from_secs(60)).unwrap();
    assert_eq!(out.records, 3000);
    assert_eq!(out.duplicates, 0);
    assert_eq!(out.missing_seq(5, 0, 3000), 0);
}

/// What a transactional contender leaves behind: commit markers and an aborted transaction's
/// records take offsets, so end offsets over-count; the read_committed count and the group's
/// committed input offsets do not.
#[test]
fn transactional_output_is_counted_by_records_not_end_offsets() {
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    create(&bootstrap, &["tx.in", "tx.out"]);

    let producer: BaseProducer = metricpipe_testkit::client_config(
        &bootstrap,
        metricpipe_testkit::ClientRole::Producer,
        &[],
    )
    .set("transactional.id", "bench-count-test")
    .set("log_level", "3")
    .create()
    .unwrap();
    let group: BaseConsumer = metricpipe_testkit::client_config(
        &bootstrap,
        metricpipe_testkit::ClientRole::Consumer,
        &[],
    )
    .set("group.id", "tx-group")
    .create()
    .unwrap();
    let timeout = Duration::from_secs(30);
    producer.init_transactions(timeout).unwrap();
    let transaction = |records: usize, input_offsets: Option<(i64, i64)>, commit: bool| {
        producer.begin_transaction().unwrap();
        for i in 0..records {
            producer
                .send(BaseRecord::<(), str>::to("tx.out").payload(&format!("r{i}")))
                .unwrap();
        }
        if let Some((p0, p1)) = input_offsets {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset("tx.in", 0, Offset::Offset(p0))
                .unwrap();
            tpl.add_partition_offset("tx.in", 1, Offset::Offset(p1))
                .unwrap();
            producer
                .send_offsets_to_transaction(&tpl, &group.group_metadata().unwrap(), timeout)
                .unwrap();
        }
        // Delivery reports must be polled before an abort; flush does.
        producer.flush(timeout).unwrap();
        if commit {
            producer.commit_transaction(timeout).unwrap();
        } else {
            producer.abort_transaction(timeout).unwrap();
        }
    };
    transaction(100, None, true);
    transaction(50, Some((1000, 1000)), false);
    transaction(30, Some((7, 5)), true);

    let mut offsets = Offsets::new(&bootstrap).unwrap();
    let end = offsets.end("tx.out").unwrap();
    assert!(end > 180, "130 committed, 50 aborted and markers: {end}");
    let starts: Vec<ReadStart> = offsets
        .ends("tx.out")
        .unwrap()
        .into_iter()
        .map(|(partition, _)| ReadStart {
            topic: "tx.out".into(),
            partition,
            offset: 0,
        })
        .collect();
    let tally = count_committed(&bootstrap, &starts, Duration::from_secs(60)).unwrap();
    assert!(tally.done(), "unfinished: {:?}", tally.unfinished());
    assert_eq!(tally.records("tx.out"), 130);

    let mut input = InputProgress::new(&bootstrap, "tx-group", "tx.in", 0..3).unwrap();
    assert_eq!(input.processed(), 12, "the committed transaction's 7 + 5");
    let mut nobody = InputProgress::new(&bootstrap, "no-such-group", "tx.in", 0..3).unwrap();
    assert_eq!(nobody.processed(), 0);
}
