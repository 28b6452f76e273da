//! Drill 5 (docs/RELIABILITY.md): every broker of a real 3-node cluster is SIGKILLed for
//! 60 s while two `metricpipe agent` processes collect every second (one with the default
//! queue of 3,200 events, one with `queue.mem.events: 20`), and `metricpipe streams` is
//! started while no broker is reachable.
//! - The agents keep collecting; their RSS stays bounded (before, during, after).
//! - Each agent's drop counter equals the events that never arrived in its topic (with
//!   `required_acks: -1`; see docs/RELIABILITY.md for what acks=1 can lose uncounted).
//! - Delivery resumes with no restart; streams then routes everything the agent sent.
//! - Streams waits with one clear log line per 30 s, does not exit, and does not spin.
//!
//! `cargo test -p metricpipe --test it drill_outage -- --nocapture`

use crate::drill_common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use drill_common::*;
use rdkafka::message::Message;

const OUTAGE: Duration = Duration::from_secs(60);

/// Keys of the agent events in `topic`, and how many were collected after `since` (an
/// RFC 3339 timestamp).
fn agent_events(bootstrap: &str, topic: &str, since: &str) -> (HashSet<String>, usize) {
    let mut keys = HashSet::new();
    let mut fresh = 0;
    read_topic(bootstrap, topic, Duration::from_secs(60), |m| {
        let Some(v) = m
            .payload()
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
        else {
            return;
        };
        if v.get("@timestamp").and_then(|t| t.as_str()) > Some(since) {
            fresh += 1;
        }
        if let Some(k) = m.payload().and_then(key_of) {
            keys.insert(k);
        }
    });
    (keys, fresh)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[test]
fn all_brokers_down_for_60s() {
    // Kills brokers: the binary's kill-drill cluster, not the run's shared one.
    let cluster = metricpipe_testkit::kill_drill_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let t = Topics::new("outage");
    let small_topic = format!("{}.small", t.input);
    let mut names = t.pipeline();
    names.push(&small_topic);
    create_topics(&bootstrap, &names, &[]);

    let dir = tempfile::tempdir().unwrap();
    let spawn_agent = |name: &str, topic: &str, extra: &str, addr: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        // acks=all: with acks=1 a record the dead leader acknowledged but had not yet
        // copied is truncated when a follower takes over, a loss no client can count.
        let yml = agent_yaml(&d, &bootstrap, topic, "  required_acks: -1\n");
        let text = std::fs::read_to_string(&yml).unwrap() + extra;
        std::fs::write(&yml, text).unwrap();
        let data = d.join("data");
        Proc::spawn(
            name,
            &[
                "agent".as_ref(),
                "-c".as_ref(),
                yml.as_os_str(),
                "--path.data".as_ref(),
                data.as_os_str(),
                "--metrics-addr".as_ref(),
                addr.as_ref(),
            ],
        )
    };
    let addr_big = format!("127.0.0.1:{}", free_port());
    let addr_small = format!("127.0.0.1:{}", free_port());
    let mut big = spawn_agent("agent-default-queue", &t.input, "", &addr_big);
    let mut small = spawn_agent(
        "agent-queue-20",
        &small_topic,
        "queue.mem.events: 20\n",
        &addr_small,
    );
    std::thread::sleep(Duration::from_secs(8));
    let rss_before = (big.rss_kib(), small.rss_kib());
    let collected_before = metric_sum(
        &scrape(&addr_big),
        "metricpipe_agent_events_collected_total",
        &[],
    );
    assert!(
        collected_before > 0.0,
        "the agent collected nothing before the outage\n{}",
        big.log()
    );

    let ids: Vec<u32> = cluster.nodes().iter().map(|n| n.id).collect();
    for id in &ids {
        cluster.kill(*id).unwrap();
    }
    let down = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    // Streams, started with no broker to reach.
    let streams_addr = format!("127.0.0.1:{}", free_port());
    let mut args = t.streams_args(&bootstrap);
    args.extend(["--metrics-addr", &streams_addr].map(String::from));
    let mut streams = Proc::spawn("streams", &args);
    std::thread::sleep(Duration::from_secs(3));
    let streams_cpu_start = streams.cpu_time();
    let streams_waiting_from = Instant::now();

    let mut rss_during = (0, 0);
    while down.elapsed() < OUTAGE {
        rss_during.0 = rss_during.0.max(big.rss_kib());
        rss_during.1 = rss_during.1.max(small.rss_kib());
        assert!(
            streams.running(),
            "streams exited while the brokers were down\n{}",
            streams.log()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let streams_cpu = streams.cpu_time() - streams_cpu_start;
    let streams_waited = streams_waiting_from.elapsed();
    let streams_log_during = streams.log();
    let collected_during = metric_sum(
        &scrape(&addr_big),
        "metricpipe_agent_events_collected_total",
        &[],
    );

    for id in &ids {
        cluster.start(*id).unwrap();
    }
    let mut restart = String::new();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    metricpipe_loadgen::push_timestamp(&mut restart, now_ms);
    cluster
        .wait_ready(ids.len(), Duration::from_secs(180))
        .unwrap();
    let back_after = down.elapsed();

    // Delivery resumes by itself: wait for the queues to drain.
    let drained = wait_until(Duration::from_secs(120), || {
        let m = scrape(&addr_big);
        let s = scrape(&addr_small);
        let sent = metric_sum(&m, "metricpipe_agent_events_sent_total", &[]);
        let collected = metric_sum(&m, "metricpipe_agent_events_collected_total", &[]);
        let depth = metric_sum(&m, "metricpipe_agent_queue_depth", &[])
            + metric_sum(&s, "metricpipe_agent_queue_depth", &[]);
        sent > 0.0 && collected > collected_during + 5.0 && depth <= 4.0
    });
    assert!(drained, "the agents' queues did not drain\n{}", big.log());
    std::thread::sleep(Duration::from_secs(3));
    let rss_after = (big.rss_kib(), small.rss_kib());
    let small_metrics = scrape(&addr_small);
    let dropped_metric = metric_sum(&small_metrics, "metricpipe_agent_events_dropped_total", &[]);

    let big_status = big.terminate(Duration::from_secs(30));
    let small_status = small.terminate(Duration::from_secs(30));
    let fig_big = agent_figures(&big.log());
    let fig_small = agent_figures(&small.log());
    let (keys_big, fresh_big) = agent_events(&bootstrap, &t.input, &restart);
    let (keys_small, fresh_small) = agent_events(&bootstrap, &small_topic, &restart);
    let lost_big = fig_big.events - keys_big.len() as u64;
    let lost_small = fig_small.events - keys_small.len() as u64;

    // Streams routes everything the agent delivered, outage or not.
    let expected = expected_from_input(&bootstrap, &t.input, 0.5);
    let seen = wait_for_outputs(
        &bootstrap,
        &[&t.cpu, &t.memory],
        &expected.routed,
        Duration::from_secs(90),
    );
    let streams_status = streams.terminate(Duration::from_secs(60));
    let lost_routing = seen.missing(&expected.routed).len();
    let waiting_lines = streams_log_during
        .lines()
        .filter(|l| l.contains("cannot reach Kafka"))
        .count();
    let warn_lines = streams_log_during
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .count();

    eprintln!(
        "DRILL outage: all 3 brokers SIGKILLed {}s, cluster back after {:.1}s. \
         agent(queue 3200): collected during outage={:.0} events={} sent={} dropped={} failed={} arrived={} lost={lost_big} fresh_after={fresh_big} \
         RSS MiB before/during-max/after={:.1}/{:.1}/{:.1}; \
         agent(queue 20): events={} sent={} dropped={} (metrics {dropped_metric:.0}) failed={} arrived={} lost={lost_small} fresh_after={fresh_small} \
         RSS MiB {:.1}/{:.1}/{:.1}; \
         streams started with no broker: CPU {:.2}s over {:.0}s waiting ({:.1}%), 'cannot reach Kafka' lines={waiting_lines}, warn/error lines={warn_lines}, \
         then routed {} of {} (lost={lost_routing})",
        OUTAGE.as_secs(),
        back_after.as_secs_f64(),
        collected_during - collected_before,
        fig_big.events,
        fig_big.sent,
        fig_big.dropped,
        fig_big.failed,
        keys_big.len(),
        mib(rss_before.0),
        mib(rss_during.0),
        mib(rss_after.0),
        fig_small.events,
        fig_small.sent,
        fig_small.dropped,
        fig_small.failed,
        keys_small.len(),
        mib(rss_before.1),
        mib(rss_during.1),
        mib(rss_after.1),
        streams_cpu.as_secs_f64(),
        streams_waited.as_secs_f64(),
        100.0 * streams_cpu.as_secs_f64() / streams_waited.as_secs_f64(),
        seen.count.len(),
        expected.routed.len(),
    );

    // Two metricsets every second: about 120 events in 60 s, collected with nothing delivered.
    assert!(
        collected_during - collected_before >= 80.0,
        "collection stalled during the outage"
    );
    assert!(big_status.success() && small_status.success());
    assert_eq!(lost_big, fig_big.dropped + fig_big.failed, "{fig_big:?}");
    assert_eq!(
        fig_big.dropped, 0,
        "3,200 events of room: nothing to drop in 60 s"
    );
    assert_eq!(
        lost_small,
        fig_small.dropped + fig_small.failed,
        "{fig_small:?}"
    );
    assert!(
        fig_small.dropped > 0,
        "a 20-event queue must overflow in 60 s"
    );
    assert_eq!(fig_small.dropped as f64, dropped_metric);
    assert!(
        fresh_big > 0 && fresh_small > 0,
        "no delivery after the restart"
    );
    for (before, during, after) in [
        (rss_before.0, rss_during.0, rss_after.0),
        (rss_before.1, rss_during.1, rss_after.1),
    ] {
        // Bounded: the queue holds at most 3,200 small events (a few MiB).
        assert!(during < before + 32 * 1024, "RSS {before} -> {during} KiB");
        assert!(after < before + 32 * 1024, "RSS {before} -> {after} KiB");
    }
    assert!(
        streams_cpu.as_secs_f64() < 0.05 * streams_waited.as_secs_f64(),
        "streams used {streams_cpu:?} of CPU in {streams_waited:?} waiting for brokers"
    );
    assert!(
        (1..=3).contains(&waiting_lines),
        "expected one 'cannot reach Kafka' line per 30 s, got {waiting_lines}:\n{streams_log_during}"
    );
    assert!(warn_lines <= 8, "the wait is noisy:\n{streams_log_during}");
    assert_eq!(lost_routing, 0, "{}", streams.log());
    assert!(streams_status.success(), "{}", streams.log());
}
