//! The ceiling and the offset watcher against a real 3-node cluster.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metricpipe_admin::{create_topics, AdminOptions, TopicSpec};
use metricpipe_bench::offsets::Offsets;
use metricpipe_bench::{passthrough, PassthroughOptions};
use metricpipe_loadgen::{count_ids, produce, GenOptions, ProduceOptions, Progress};

#[test]
fn the_ceiling_copies_every_record_once_and_the_watcher_sees_them() {
    let cluster = metricpipe_local::shared_test_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let topics: Vec<TopicSpec> = ["pt.in", "pt.out"]
        .iter()
        .map(|t| TopicSpec {
            name: t.to_string(),
            partitions: 3,
            replication_factor: 2,
        })
        .collect();
    rt.block_on(create_topics(&AdminOptions::new(&bootstrap), &topics))
        .unwrap();

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
