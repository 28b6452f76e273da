//! `metricpipe tail` reads like kafka-console-consumer (issue #22), on a real cluster:
//! - `--group g --from-beginning --max 3` on a 20-record partition commits offset 3, what it
//!   printed (before the fix: 20, everything fetched);
//! - partitions added while it runs are read, without a group (it assigns) and with one
//!   (it subscribes), from their first record.
//!
//! `flock /tmp/kafka.lock cargo test -p metricpipe --test it tail_console`

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use metricpipe_admin::{create_topics, AdminOptions, TopicSpec};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::drill_common;
use drill_common::{add_partitions, produce_to};

fn metricpipe() -> Command {
    metricpipe_testkit::command(metricpipe_testkit::metricpipe_bin!())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    runtime()
        .block_on(create_topics(
            &AdminOptions::new(bootstrap),
            &[TopicSpec {
                name: name.into(),
                partitions,
                replication_factor: 2,
            }],
        ))
        .expect("create topic");
}

fn committed(bootstrap: &str, group: &str, topic: &str, partition: i32) -> Offset {
    let c: BaseConsumer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Consumer, &[])
            .set("group.id", group)
            .create()
            .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    let got = c
        .committed_offsets(tpl, Duration::from_secs(15))
        .expect("committed");
    got.elements()[0].offset()
}

/// Lines of a running tail, as they come.
fn lines_of(child: &mut Child) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_for_lines(rx: &Receiver<String>, want: &[String], timeout: Duration) -> (bool, Duration) {
    let started = Instant::now();
    let mut seen = Vec::new();
    while started.elapsed() < timeout {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(l);
        }
        if want.iter().all(|w| seen.contains(w)) {
            return (true, started.elapsed());
        }
    }
    (false, started.elapsed())
}

#[test]
fn a_group_commits_only_what_was_printed() {
    let cluster = metricpipe_testkit::shared_cluster();
    let b = cluster.bootstrap_servers();
    create_topic(&b, "tail.commit", 1);
    let values: Vec<String> = (0..20).map(|i| format!(r#"{{"n":{i}}}"#)).collect();
    produce_to(&b, "tail.commit", 0, &values);
    let out = metricpipe()
        .args([
            "tail",
            "tail.commit",
            "--group",
            "tail-commit-g",
            "--from-beginning",
            "--max",
            "3",
            "-b",
            &b,
        ])
        .output()
        .expect("run tail");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    let point = committed(&b, "tail-commit-g", "tail.commit", 0);
    assert_eq!(
        point,
        Offset::Offset(3),
        "commits the 3 printed, not all 20 fetched"
    );

    // The next run goes on from there.
    let out = metricpipe()
        .args([
            "tail",
            "tail.commit",
            "--group",
            "tail-commit-g",
            "--max",
            "2",
            "-b",
            &b,
        ])
        .output()
        .expect("run tail");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .collect::<Vec<_>>(),
        vec![r#"{"n":3}"#, r#"{"n":4}"#]
    );
}

/// The last `n` lines of a log file, for a failure message.
fn log_tail(path: &std::path::Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn added_partitions_are_read(group: Option<&str>, topic: &str) {
    let cluster = metricpipe_testkit::shared_cluster();
    let b = cluster.bootstrap_servers();
    create_topic(&b, topic, 3);
    let mut args = vec!["tail", topic, "--from-beginning", "-b", &b];
    if let Some(g) = group {
        args.extend(["--group", g]);
    }
    let log = std::env::temp_dir().join(format!("metricpipe-{topic}-{}.log", std::process::id()));
    let mut child = metricpipe()
        .args(&args)
        .args(["-X", "debug=cgrp,topic"])
        .env("METRICPIPE_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn tail");
    let rx = lines_of(&mut child);
    let first = vec![r#"{"p":0}"#.to_string()];
    produce_to(&b, topic, 0, &first);
    // The first group on a new cluster waits for __consumer_offsets to be created and its
    // coordinator to load, which takes tens of seconds on a loaded 2-core machine; only
    // what comes after is the behaviour under test.
    let (ok, _) = wait_for_lines(&rx, &first, Duration::from_secs(120));
    if !ok {
        let status = child.try_wait();
        let _ = child.kill();
        panic!(
            "tail printed nothing in 120s (exit: {status:?}); the end of its log:\n{}",
            log_tail(&log, 60)
        );
    }
    add_partitions(&b, topic, 5);
    // Written right after the partitions exist, before tail can have noticed them.
    let later: Vec<String> = (3..5).map(|p| format!(r#"{{"p":{p}}}"#)).collect();
    for (p, v) in (3..5).zip(&later) {
        produce_to(&b, topic, p, std::slice::from_ref(v));
    }
    let (ok, took) = wait_for_lines(&rx, &later, Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    eprintln!(
        "TAIL new partitions (group {group:?}): read after {:.1}s",
        took.as_secs_f64()
    );
    assert!(
        ok,
        "records of the added partitions were not printed; the end of tail's log:\n{}",
        log_tail(&log, 60)
    );
    // librdkafka refreshes metadata every 5 s here (topic.metadata.refresh.interval.ms),
    // then the group rebalances: well under 40 s unless the partitions are never seen.
    assert!(took < Duration::from_secs(40), "took {took:?}");
    let _ = std::fs::remove_file(&log);
}

#[test]
fn added_partitions_are_read_without_a_group() {
    added_partitions_are_read(None, "tail.grow.assign");
}

#[test]
fn added_partitions_are_read_in_a_group() {
    added_partitions_are_read(Some("tail-grow-g"), "tail.grow.group");
}
