//! Kafka Streams' configuration on a real cluster: the Java app's `streams.properties`
//! (tests/data) runs `metricpipe streams --config` unchanged and routes, with KIP-1034
//! headers on its dead letters; `LogAndFailExceptionHandler` stops naming the record and
//! leaves it uncommitted; `num.stream.threads=2` shares three partitions, and a graceful
//! stop and restart loses and repeats nothing.
//!
//! `flock /tmp/kafka.lock cargo test -p metricpipe --test it streams_properties -- --nocapture`

use crate::drill_common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use drill_common::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

fn data_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/streams.properties")
}

fn loadgen(bootstrap: &str, topic: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        "loadgen", "-b", bootstrap, "--topic", topic, "--hosts", "200", "--json",
    ];
    args.extend_from_slice(extra);
    Proc::spawn_piped("loadgen", &args)
}

fn finish_loadgen(mut p: Proc, events: u64) {
    let status = p
        .wait_for(Duration::from_secs(120))
        .unwrap_or_else(|| panic!("loadgen did not finish\n{}", p.log()));
    assert!(status.success(), "loadgen: {status}\n{}", p.log());
    let load = loadgen_summary(&p.stdout());
    assert_eq!((load.events, load.failed), (events, 0));
}

/// Every header of every record of `topic`, as strings.
fn records_with_headers(bootstrap: &str, topic: &str) -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    read_topic(bootstrap, topic, Duration::from_secs(60), |m| {
        let mut h = HashMap::new();
        if let Some(headers) = m.headers() {
            for hd in headers.iter() {
                let v = hd.value.map(|v| String::from_utf8_lossy(v).into_owned());
                h.insert(hd.key.to_string(), v.unwrap_or_default());
            }
        }
        h.insert(
            "(value)".into(),
            String::from_utf8_lossy(m.payload().unwrap_or_default()).into(),
        );
        out.push(h);
    });
    out
}

#[test]
fn the_java_apps_properties_file_runs_unchanged_and_dead_letters_with_kip_1034_headers() {
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    // The file's own topic names: the Java app's.
    let topics = [
        "metric.all",
        "metric.cpu",
        "metric.memory",
        "metric.cpu.alert",
        "metric.dlq",
    ];
    create_topics(&bootstrap, &topics, &[]);
    finish_loadgen(
        loadgen(&bootstrap, "metric.all", &["--count", "600", "--seed", "7"]),
        600,
    );
    produce_to(&bootstrap, "metric.all", 1, &["this is not json"]);
    let bad_offset = topic_partition_end(&bootstrap, "metric.all", 1) - 1;

    // The file names brokers kafka-1..3: the flag beats it, as documented.
    let file = data_file();
    let mut streams = Proc::spawn(
        "streams",
        &[
            "streams",
            "--config",
            file.to_str().unwrap(),
            "--bootstrap-server",
            &bootstrap,
        ],
    );
    let expected = expected_from_input(&bootstrap, "metric.all", 0.5);
    assert_eq!(expected.routed.len(), 600);
    let seen = wait_for_outputs(
        &bootstrap,
        &["metric.cpu", "metric.memory"],
        &expected.routed,
        Duration::from_secs(90),
    );
    let alerts = wait_for_outputs(
        &bootstrap,
        &["metric.cpu.alert"],
        &expected.alerts,
        Duration::from_secs(30),
    );
    assert!(wait_until(Duration::from_secs(30), || {
        !records_with_headers(&bootstrap, "metric.dlq").is_empty()
    }));
    let status = streams.terminate(Duration::from_secs(40));
    let log = streams.log();
    assert!(status.success(), "streams: {status}\n{log}");
    assert!(
        seen.missing(&expected.routed).is_empty(),
        "lost routed records\n{log}"
    );
    assert_eq!(seen.duplicates(), 0);
    assert!(
        alerts.missing(&expected.alerts).is_empty(),
        "lost alerts\n{log}"
    );

    let dlq = records_with_headers(&bootstrap, "metric.dlq");
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    let h = &dlq[0];
    let get = |k: &str| {
        h.get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {k} in {h:?}"))
    };
    eprintln!("dead letter headers: {h:?}");
    assert_eq!(get("(value)"), "this is not json");
    assert_eq!(get("metricpipe.dlq.reason"), "not-json");
    assert!(get("__streams.errors.exception")
        .starts_with("metricpipe.streams.RejectedRecord: not-json: "));
    assert!(get("__streams.errors.message").starts_with("not-json: "));
    assert!(get("__streams.errors.stacktrace").contains("\n\tat KSTREAM-SOURCE-"));
    assert_eq!(get("__streams.errors.topic"), "metric.all");
    assert_eq!(get("__streams.errors.partition"), "1");
    assert_eq!(get("__streams.errors.offset"), bad_offset.to_string());

    // Two stream threads, and one warning per key metricpipe does not implement.
    assert!(log.contains("num_stream_threads=2"), "{log}");
    for key in [
        "`state.dir`",
        "`replication.factor`",
        "`consumer.max.poll.records`",
    ] {
        assert_eq!(log.matches(key).count(), 1, "{key}\n{log}");
    }
}

/// The end offset of one partition.
fn topic_partition_end(bootstrap: &str, topic: &str, partition: i32) -> i64 {
    let consumer: BaseConsumer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Consumer, &[])
            .create()
            .expect("consumer");
    consumer
        .fetch_watermarks(topic, partition, Duration::from_secs(30))
        .expect("watermarks")
        .1
}

fn committed(bootstrap: &str, group: &str, topic: &str, partition: i32) -> Offset {
    let consumer: BaseConsumer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Consumer, &[])
            .set("group.id", group)
            .create()
            .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    let c = consumer
        .committed_offsets(tpl, Duration::from_secs(30))
        .expect("committed");
    c.elements()[0].offset()
}

#[test]
fn log_and_fail_stops_naming_the_record_and_leaves_it_uncommitted() {
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let t = Topics::new("logandfail");
    create_topics(&bootstrap, &t.pipeline(), &[]);
    let good: Vec<String> = (0..5)
        .map(|i| format!(r#"{{"metricset":{{"name":"memory"}},"event":{{"id":"good-{i}"}}}}"#))
        .collect();
    let mut values: Vec<&str> = good.iter().map(String::as_str).collect();
    values.push("{truncated");
    values.extend(good.iter().map(String::as_str));
    produce_to(&bootstrap, &t.input, 0, &values);

    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("streams.properties");
    std::fs::write(
        &props,
        format!(
            "application.id={}\nbootstrap.servers={bootstrap}\n\
             default.deserialization.exception.handler=org.apache.kafka.streams.errors.LogAndFailExceptionHandler\n",
            t.app
        ),
    )
    .unwrap();
    let mut args: Vec<String> = t.streams_args(&bootstrap);
    // The properties file gives the application id and the brokers.
    args.drain(1..5);
    args.extend(["--config".to_string(), props.display().to_string()]);
    let mut streams = Proc::spawn("streams", &args);
    let status = streams
        .wait_for(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("streams did not stop\n{}", streams.log()));
    let log = streams.log();
    assert!(!status.success(), "{log}");
    let record = format!("{}[0]@5", t.input);
    assert!(log.contains(&record) && log.contains("LogAndFail"), "{log}");
    // Everything before it was routed and committed; it and what follows were not.
    assert_eq!(
        committed(&bootstrap, &t.app, &t.input, 0),
        Offset::Offset(5),
        "{log}"
    );
    assert_eq!(topic_records(&bootstrap, &t.memory), 5);
}

/// Records on `topics` now; a partition whose leader is moving (just created) counts 0.
fn records_now(bootstrap: &str, topics: &[&str]) -> i64 {
    let consumer: BaseConsumer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Consumer, &[])
            .create()
            .expect("consumer");
    let timeout = Duration::from_secs(5);
    topics
        .iter()
        .flat_map(|t| (0..3).map(move |p| (*t, p)))
        .filter_map(|(t, p)| consumer.fetch_watermarks(t, p, timeout).ok())
        .map(|(low, high)| high - low)
        .sum()
}

/// `records_in=` of every `processing stopped` line (one per stream thread).
fn per_thread_records_in(log: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains("processing stopped"))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("records_in="))
                .and_then(|v| v.parse().ok())
        })
        .collect()
}

#[test]
fn two_stream_threads_share_three_partitions_and_a_graceful_restart_loses_and_repeats_nothing() {
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let t = Topics::new("threads");
    create_topics(&bootstrap, &t.pipeline(), &[]);
    let mut args = t.streams_args(&bootstrap);
    args.extend(["--num-stream-threads", "2"].map(String::from));
    let load = loadgen(
        &bootstrap,
        &t.input,
        &["--count", "16000", "--rate", "2000", "--seed", "11"],
    );
    let started = Instant::now();
    let mut first = Proc::spawn("streams-1", &args);
    // Stopped mid-stream, once it routes (the group's first join can take seconds).
    let routing = wait_until(Duration::from_secs(60), || {
        records_now(&bootstrap, &[&t.cpu, &t.memory]) >= 2_000
    });
    assert!(routing, "nothing routed within 60 s\n{}", first.log());
    let status = first.terminate(Duration::from_secs(40));
    let first_log = first.log();
    assert!(status.success(), "{status}\n{first_log}");
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let mut second_args = args.clone();
    second_args.extend(["--metrics-addr".to_string(), metrics_addr.clone()]);
    let mut second = Proc::spawn("streams-2", &second_args);
    finish_loadgen(load, 16_000);
    let expected = expected_from_input(&bootstrap, &t.input, 0.5);
    assert_eq!(expected.routed.len(), 16_000);
    let seen = wait_for_outputs(
        &bootstrap,
        &[&t.cpu, &t.memory],
        &expected.routed,
        Duration::from_secs(120),
    );
    // /metrics adds up the two consumers' group figures (statistics every 5 s).
    let mut page = String::new();
    let combined = wait_until(Duration::from_secs(20), || {
        page = scrape(&metrics_addr);
        metric_sum(&page, "metricpipe_streams_assigned_partitions", &[]) == 3.0
            && metric_sum(&page, "metricpipe_streams_group_state", &["state=\"up\""]) == 2.0
    });
    let status = second.terminate(Duration::from_secs(40));
    let second_log = second.log();
    assert!(status.success(), "{status}\n{second_log}");
    let lost = seen.missing(&expected.routed).len();
    let first_threads = per_thread_records_in(&first_log);
    let second_threads = per_thread_records_in(&second_log);
    eprintln!(
        "THREADS: 16,000 at 2,000/s, 2 stream threads, stopped (SIGTERM) once 2,000 were routed and restarted: \
         routed distinct={} lost={lost} dup={}; records_in per thread: first run {first_threads:?}, \
         second run {second_threads:?}; {:.1}s",
        seen.count.len(),
        seen.duplicates(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        combined,
        "assigned partitions / group state not combined:\n{page}"
    );
    assert_eq!(lost, 0, "{second_log}");
    assert_eq!(seen.duplicates(), 0, "{first_log}\n{second_log}");
    assert_eq!(first_threads.len(), 2, "{first_log}");
    assert!(first_threads.iter().sum::<u64>() > 0, "{first_log}");
    assert_eq!(second_threads.len(), 2, "{second_log}");
    assert!(
        second_threads.iter().all(|&n| n > 0),
        "a thread got no partition: {second_threads:?}\n{second_log}"
    );
}
