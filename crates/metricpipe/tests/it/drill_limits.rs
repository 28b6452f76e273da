//! Issue #21's drills: broker refusals that a Kafka client survives must lose nothing.
//! `metricpipe streams` as a real process on a real 3-node cluster, fed by `metricpipe
//! loadgen`, every record counted by its event id.
//!
//! - `small_limit_on_every_output_topic`: `max.message.bytes=65536` on every output topic
//!   (and the dead-letter topic), a 20,000-event backlog. Before the fix, with a 40,000-event
//!   backlog, 18,322 of 20,000 cpu records went to the dead-letter topic (#21). Target: 0 lost,
//!   0 dead letters.
//! - `limit_lowered_while_running`: the limits drop to 32768 after streams read them at
//!   start, so its batches are too large and refused: each refused batch is split and sent
//!   again. Target: 0 lost, 0 dead letters.
//! - `partitions_added_under_load`: `metric.all` grows from 3 to 6 partitions while loadgen
//!   writes to it. Target: every record of the new partitions routed, the new partitions
//!   assigned within the documented bound (docs/RELIABILITY.md).
//!
//! `flock /tmp/kafka.lock cargo test -p metricpipe --test it drill_limits -- --nocapture`

use crate::drill_common;

use std::time::{Duration, Instant};

use drill_common::*;

fn backlog(bootstrap: &str, topic: &str, events: u64, seed: &str) -> LoadSummary {
    let count = events.to_string();
    let mut load = Proc::spawn_piped(
        "loadgen",
        &[
            "loadgen", "-b", bootstrap, "--topic", topic, "--count", &count, "--hosts", "200",
            "--seed", seed, "--json",
        ],
    );
    let status = load
        .wait_for(Duration::from_secs(180))
        .unwrap_or_else(|| panic!("loadgen did not finish\n{}", load.log()));
    assert!(status.success(), "loadgen: {status}\n{}", load.log());
    let summary = loadgen_summary(&load.stdout());
    assert_eq!((summary.failed, summary.delivered), (0, summary.events));
    summary
}

/// Lost and duplicated outputs of the whole input, and the dead letters.
fn count(bootstrap: &str, t: &Topics) -> (usize, u64, i64, usize) {
    let expected = expected_from_input(bootstrap, &t.input, 0.5);
    let seen = wait_for_outputs(
        bootstrap,
        &[&t.cpu, &t.memory],
        &expected.routed,
        Duration::from_secs(120),
    );
    let alerts = wait_for_outputs(
        bootstrap,
        &[&t.alert],
        &expected.alerts,
        Duration::from_secs(30),
    );
    let lost = seen.missing(&expected.routed).len() + alerts.missing(&expected.alerts).len();
    let dup = seen.duplicates() + alerts.duplicates();
    (
        lost,
        dup,
        topic_records(bootstrap, &t.dlq),
        expected.routed.len(),
    )
}

fn streams_args(t: &Topics, bootstrap: &str, extra: &[&str]) -> Vec<String> {
    let mut args = t.streams_args(bootstrap);
    args.extend(["--dlq-topic", &t.dlq].map(String::from));
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn failure_lines(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("deliveries failed"))
        .count()
}

#[test]
fn small_limit_on_every_output_topic() {
    // The drills share the machine's two cores with the binary's other drills: one at a time.
    let _turn = metricpipe_testkit::drill_turn();
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let t = Topics::new("smalllimit");
    create_topics(&bootstrap, &[&t.input], &[]);
    create_topics(
        &bootstrap,
        &[&t.cpu, &t.memory, &t.alert, &t.dlq],
        &[("max.message.bytes", "65536")],
    );
    let load = backlog(&bootstrap, &t.input, 20_000, "2101");
    let started = Instant::now();
    let mut s = Proc::spawn(
        "streams",
        &streams_args(&t, &bootstrap, &["--exit-when-idle", "5s"]),
    );
    let status = s
        .wait_for(Duration::from_secs(240))
        .unwrap_or_else(|| panic!("streams did not finish the backlog\n{}", s.log()));
    let took = started.elapsed();
    let (lost, dup, dead, routed) = count(&bootstrap, &t);
    let log = s.log();
    eprintln!(
        "DRILL small-limit: {} events backlog, max.message.bytes=65536 on every output topic; streams took {:.1}s; \
         routed expected={routed} lost={lost} dup={dup} dead_letters={dead} failure_log_lines={}",
        load.events,
        took.as_secs_f64(),
        failure_lines(&log),
    );
    assert!(status.success(), "{status}\n{log}");
    assert_eq!((lost, dead), (0, 0), "{log}");
    assert!(
        log.contains("batch_size="),
        "the batch bound was not applied\n{log}"
    );
}

#[test]
fn limit_lowered_while_running() {
    // The drills share the machine's two cores with the binary's other drills: one at a time.
    let _turn = metricpipe_testkit::drill_turn();
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let t = Topics::new("lowered");
    let mut topics = t.pipeline();
    topics.push(&t.dlq);
    create_topics(&bootstrap, &topics, &[]);
    let mut s = Proc::spawn("streams", &streams_args(&t, &bootstrap, &[]));
    assert!(
        wait_until(Duration::from_secs(60), || s
            .log()
            .contains("partitions assigned")),
        "no partitions\n{}",
        s.log()
    );
    for topic in [&t.cpu, &t.memory, &t.alert, &t.dlq] {
        alter_topic_config(&bootstrap, topic, &[("max.message.bytes", "32768")]);
    }
    // The brokers apply a dynamic topic config within moments; give them one.
    std::thread::sleep(Duration::from_secs(2));
    let load = backlog(&bootstrap, &t.input, 20_000, "2102");
    let (lost, dup, dead, routed) = count(&bootstrap, &t);
    let status = s.terminate(Duration::from_secs(60));
    let log = s.log();
    let split = log
        .lines()
        .filter(|l| l.contains("deliveries failed") && l.contains("split-and-resent"))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("records="))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum::<u64>();
    eprintln!(
        "DRILL limit-lowered: {} events, max.message.bytes lowered to 32768 after start; \
         routed expected={routed} lost={lost} dup={dup} dead_letters={dead} records_split_and_resent={split} failure_log_lines={}",
        load.events,
        failure_lines(&log),
    );
    assert!(status.success(), "{status}\n{log}");
    assert_eq!((lost, dead), (0, 0), "{log}");
    assert!(
        split > 0,
        "no batch was refused: the drill tested nothing\n{log}"
    );
}

#[test]
fn partitions_added_under_load() {
    // The drills share the machine's two cores with the binary's other drills: one at a time.
    let _turn = metricpipe_testkit::drill_turn();
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let t = Topics::new("grow");
    create_topics(&bootstrap, &t.pipeline(), &[]);
    let mut s = Proc::spawn("streams", &t.streams_args(&bootstrap));
    assert!(
        wait_until(Duration::from_secs(60), || s
            .log()
            .contains("partitions assigned")),
        "no partitions\n{}",
        s.log()
    );
    // Loadgen's producer must see the new partitions soon too, to write to them.
    let mut load = Proc::spawn_piped(
        "loadgen",
        &[
            "loadgen",
            "-b",
            &bootstrap,
            "--topic",
            &t.input,
            "--rate",
            "2000",
            "--duration",
            "20s",
            "--hosts",
            "200",
            "--seed",
            "2103",
            "--json",
            "--producer-property",
            "topic.metadata.refresh.interval.ms=1000",
        ],
    );
    std::thread::sleep(Duration::from_secs(5));
    add_partitions(&bootstrap, &t.input, 6);
    let grown = Instant::now();
    let new_partition = format!("{}[5]", t.input);
    let assigned = wait_until(Duration::from_secs(60), || {
        s.log()
            .lines()
            .any(|l| l.contains("partitions assigned") && l.contains(&new_partition))
    });
    let assigned_after = grown.elapsed();
    let status = load
        .wait_for(Duration::from_secs(120))
        .unwrap_or_else(|| panic!("loadgen did not finish\n{}", load.log()));
    assert!(status.success(), "{}", load.log());
    let mut in_new = 0u64;
    read_topic(&bootstrap, &t.input, Duration::from_secs(60), |m| {
        if rdkafka::Message::partition(m) >= 3 {
            in_new += 1;
        }
    });
    let (lost, dup, _, routed) = count(&bootstrap, &t);
    let status = s.terminate(Duration::from_secs(60));
    eprintln!(
        "DRILL partitions-added: metric.all 3 -> 6 partitions under 2,000 records/s; new partitions assigned after {:.1}s \
         (bound 10 s refresh + rebalance); records in the new partitions={in_new}; routed expected={routed} lost={lost} dup={dup}",
        assigned_after.as_secs_f64()
    );
    assert!(
        assigned,
        "the new partitions were never assigned\n{}",
        s.log()
    );
    assert!(
        assigned_after < Duration::from_secs(20),
        "assigned after {assigned_after:?}"
    );
    assert!(in_new > 0, "loadgen wrote nothing to the new partitions");
    assert_eq!(lost, 0, "{}", s.log());
    assert!(status.success(), "{status}");
}
