//! loadgen against a real 3-node cluster: everything sent is on the topic once, with the ids
//! and the cpu/memory/hot split the summary claims.

use std::sync::Arc;
use std::time::Duration;

use metricpipe_admin::{create_topics, AdminOptions, TopicSpec};
use metricpipe_loadgen::{count_ids, produce, scan, GenOptions, ProduceOptions, Progress};

fn create(bootstrap: &str, topic: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(create_topics(
        &AdminOptions::new(bootstrap),
        &[TopicSpec {
            name: topic.into(),
            partitions: 3,
            replication_factor: 2,
        }],
    ))
    .unwrap();
}

#[test]
fn a_backlog_lands_once_with_the_claimed_ids_and_split() {
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    create(&bootstrap, "loadgen.backlog");

    let mut opts = ProduceOptions::new(&bootstrap, "loadgen.backlog");
    opts.count = Some(5000);
    opts.generator = GenOptions {
        hosts: 50,
        seed: 77,
        hot_share: 0.25,
        ..GenOptions::default()
    };
    let summary = produce(&opts, Arc::new(Progress::default())).unwrap();
    assert_eq!(summary.events, 5000);
    assert_eq!(summary.delivered, 5000);
    assert_eq!(summary.failed, 0);
    assert_eq!(summary.cpu + summary.memory, 5000);
    assert!(summary.hot > 0 && summary.hot < summary.cpu);

    let count = count_ids(&bootstrap, "loadgen.backlog", Duration::from_secs(60)).unwrap();
    assert_eq!(count.records, 5000);
    assert_eq!(count.distinct, 5000);
    assert_eq!(count.duplicates, 0);
    assert_eq!(count.unkeyed, 0);
    assert_eq!(count.missing_seq(77, 0, 5000), 0);
    assert_eq!(count.missing_seq(77, 0, 5001), 1);

    // The hot share in the summary is what is on the topic.
    let hot = scan(
        &bootstrap,
        "loadgen.backlog",
        Duration::from_secs(60),
        |v| {
            let doc: serde_json::Value = serde_json::from_slice(v).ok()?;
            let pct = doc["system"]["cpu"]["total"]["norm"]["pct"].as_f64()?;
            (pct > 0.5).then(|| doc["event"]["id"].as_str().map(String::from))?
        },
    )
    .unwrap();
    assert_eq!(hot.distinct, summary.hot);
}

#[test]
fn a_paced_run_keeps_its_rate_and_stops_on_request() {
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    create(&bootstrap, "loadgen.paced");

    let mut opts = ProduceOptions::new(&bootstrap, "loadgen.paced");
    opts.rate = Some(200.0);
    opts.duration = Some(Duration::from_secs(30));
    let progress = Arc::new(Progress::default());
    let stopper = {
        let progress = progress.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(2));
            progress.stop();
        })
    };
    let summary = produce(&opts, progress).unwrap();
    stopper.join().unwrap();
    // 2 s at 200/s: about 400, and far from the 6000 that 30 s would give.
    assert!(
        (100..=520).contains(&summary.events),
        "{} events",
        summary.events
    );
    assert_eq!(summary.delivered, summary.events);
    let count = count_ids(&bootstrap, "loadgen.paced", Duration::from_secs(60)).unwrap();
    assert_eq!(count.distinct, summary.events);
}
