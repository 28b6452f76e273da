//! Issue #22, streams part, on a real 3-node cluster: the commit point follows the
//! consumer's real position, and a fatal client error stops the instance. Each test
//! failed before the fix (see docs/RELIABILITY.md, "Commit points follow the position").
//!
//! `flock /tmp/kafka.lock cargo test -p metricpipe-streams --test it positions`

use std::time::{Duration, Instant};

use crate::instance::Instance;

use metricpipe_streams::RuntimeConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    metricpipe_testkit::admin(bootstrap)
}

fn create(bootstrap: &str, topics: &[&str]) {
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(2)))
        .collect();
    // Right after a deletion the name may still be taken for a moment.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let results = block_on(admin(bootstrap).create_topics(&new, &AdminOptions::new())).unwrap();
        if results.iter().all(Result::is_ok) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "creating {topics:?}: {results:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn produce(bootstrap: &str, topic: &str, n: usize) {
    let values: Vec<String> = (0..n).map(|i| format!("record-{i}")).collect();
    metricpipe_testkit::produce(bootstrap, topic, &values);
}

fn committed(bootstrap: &str, group: &str, topic: &str) -> Option<i64> {
    let c: BaseConsumer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Consumer, &[])
            .set("group.id", group)
            .create()
            .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let got = c.committed_offsets(tpl, Duration::from_secs(10)).ok()?;
    match got.elements()[0].offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    }
}

use metricpipe_testkit::wait_until;

struct Names {
    bootstrap: String,
    app: String,
    input: String,
    output: String,
}

fn names() -> Names {
    let id = uuid::Uuid::new_v4().simple().to_string();
    Names {
        bootstrap: metricpipe_testkit::shared_cluster().bootstrap_servers(),
        app: format!("app-{id}"),
        input: format!("in-{id}"),
        output: format!("out-{id}"),
    }
}

fn config(n: &Names) -> RuntimeConfig {
    let mut c = RuntimeConfig::new(n.bootstrap.clone(), n.app.clone());
    // Metadata changes (a deleted topic) are seen within a second.
    c.client = c
        .client
        .layer([("topic.metadata.refresh.interval.ms", "1000")]);
    c
}

#[test]
fn a_recreated_input_topic_gets_its_own_commit_points() {
    let n = names();
    create(&n.bootstrap, &[&n.input, &n.output]);
    produce(&n.bootstrap, &n.input, 200);
    // The default metadata refresh (5 min): the topic is re-created before the consumer
    // notices the deletion, so its assignment stays and its position goes back to 0.
    let plain = RuntimeConfig::new(n.bootstrap.clone(), n.app.clone());
    let instance = Instance::start(plain, &n.input, &n.output);
    let done = || committed(&n.bootstrap, &n.app, &n.input) == Some(200);
    assert!(
        wait_until(Duration::from_secs(60), done),
        "200 not committed"
    );
    block_on(admin(&n.bootstrap).delete_topics(&[&n.input], &AdminOptions::new())).unwrap();
    create(&n.bootstrap, &[&n.input]);
    produce(&n.bootstrap, &n.input, 50);
    let followed = wait_until(Duration::from_secs(60), || {
        committed(&n.bootstrap, &n.app, &n.input) == Some(50)
    });
    let seen = committed(&n.bootstrap, &n.app, &n.input);
    let summary = instance.stop().unwrap();
    assert!(
        followed,
        "the new topic's commit point stayed at {seen:?}, not 50"
    );
    assert_eq!(summary.records_in, 250);
}

#[test]
fn committed_offsets_behind_the_log_start_are_reported() {
    let n = names();
    create(&n.bootstrap, &[&n.input, &n.output]);
    produce(&n.bootstrap, &n.input, 100);
    let first = Instance::start(config(&n), &n.input, &n.output);
    assert!(wait_until(Duration::from_secs(60), || committed(
        &n.bootstrap,
        &n.app,
        &n.input
    ) == Some(100)));
    first.stop().unwrap();
    // While the group is away, 100 more arrive and retention deletes up to offset 150.
    produce(&n.bootstrap, &n.input, 100);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&n.input, 0, Offset::Offset(150))
        .unwrap();
    block_on(admin(&n.bootstrap).delete_records(&tpl, &AdminOptions::new())).unwrap();
    let second = Instance::start(config(&n), &n.input, &n.output);
    assert!(wait_until(Duration::from_secs(60), || committed(
        &n.bootstrap,
        &n.app,
        &n.input
    ) == Some(200)));
    let summary = second.stop().unwrap();
    assert_eq!(summary.records_in, 50);
    assert_eq!(summary.skipped_offsets, 50, "offsets 100..150 were skipped");
}

#[test]
fn a_fenced_static_member_stops_naming_the_cause() {
    let n = names();
    create(&n.bootstrap, &[&n.input, &n.output]);
    produce(&n.bootstrap, &n.input, 10);
    let mut c = config(&n);
    c.client = c
        .client
        .layer([("consumer.group.instance.id", "the-same-one")]);
    let first = Instance::start(c.clone(), &n.input, &n.output);
    assert!(wait_until(Duration::from_secs(60), || committed(
        &n.bootstrap,
        &n.app,
        &n.input
    ) == Some(10)));
    let second = Instance::start(c, &n.input, &n.output);
    let fenced = wait_until(Duration::from_secs(60), || first.is_finished());
    let second_result = second.stop();
    assert!(fenced, "the fenced instance kept running");
    let err = first.stop().expect_err("the fenced instance must fail");
    let text = err.to_string();
    assert!(text.to_lowercase().contains("fenced"), "{text}");
    second_result.unwrap();
}

#[test]
fn shutdown_returns_within_its_timeout_with_no_broker() {
    // Nothing listens on port 1.
    let mut c = RuntimeConfig::new("127.0.0.1:1", "app-no-broker");
    c.shutdown_timeout = Duration::from_secs(3);
    let instance = Instance::start(c, "in", "out");
    // Past the start, whose metadata request waits up to 5 s.
    std::thread::sleep(Duration::from_secs(7));
    let asked = Instant::now();
    instance.stop().unwrap();
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
