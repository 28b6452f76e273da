//! Drill 1 (docs/RELIABILITY.md): a broker is SIGKILLed mid-stream and restarted 10 s later
//! while the agent (`required_acks: -1`), loadgen (acks=all) and streams run, all as real
//! processes on a real 3-node cluster. Target: 0 lost end-to-end. Reports the duplicates
//! and the longest gap in the output.
//!
//! `cargo test -p metricpipe --test it drill_broker_kill -- --nocapture`

use crate::drill_common;

use std::time::{Duration, Instant};

use drill_common::*;

const RATE: u64 = 1_000;
const LOAD_SECS: u64 = 30;

#[test]
fn broker_sigkill_mid_stream_loses_nothing() {
    // Kills brokers: the binary's kill-drill cluster, not the run's shared one.
    let cluster = metricpipe_testkit::kill_drill_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let t = Topics::new("brokerkill");
    create_topics(&bootstrap, &t.pipeline(), &[]);

    let mut streams = Proc::spawn("streams", &t.streams_args(&bootstrap));
    let dir = tempfile::tempdir().unwrap();
    let yml = agent_yaml(dir.path(), &bootstrap, &t.input, "  required_acks: -1\n");
    let data = dir.path().join("data");
    let mut agent = Proc::spawn(
        "agent",
        &[
            "agent".as_ref(),
            "-c".as_ref(),
            yml.as_os_str(),
            "--path.data".as_ref(),
            data.as_os_str(),
        ],
    );
    let rate = RATE.to_string();
    let duration = format!("{LOAD_SECS}s");
    let mut loadgen = Proc::spawn_piped(
        "loadgen",
        &[
            "loadgen",
            "-b",
            &bootstrap,
            "--topic",
            &t.input,
            "--rate",
            &rate,
            "--duration",
            &duration,
            "--hosts",
            "100",
            "--seed",
            "11",
            "--acks",
            "all",
            "--json",
        ],
    );

    std::thread::sleep(Duration::from_secs(8));
    // The leader of an input partition: its death moves leadership under every client.
    let victim = leader_of(&bootstrap, &t.input, 0);
    cluster.kill(victim).unwrap();
    let killed = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    cluster.start(victim).unwrap();
    cluster.wait_ready(3, Duration::from_secs(120)).unwrap();
    let back_after = killed.elapsed();

    let status = loadgen
        .wait_for(Duration::from_secs(LOAD_SECS + 90))
        .unwrap_or_else(|| panic!("loadgen did not finish\n{}", loadgen.log()));
    let load = loadgen_summary(&loadgen.stdout());
    assert!(status.success(), "loadgen: {status}\n{}", loadgen.log());
    let agent_status = agent.terminate(Duration::from_secs(30));
    assert!(
        agent_status.success(),
        "agent: {agent_status}\n{}",
        agent.log()
    );
    let agent_figures = agent_figures(&agent.log());

    let expected = expected_from_input(&bootstrap, &t.input, 0.5);
    let seen = wait_for_outputs(
        &bootstrap,
        &[&t.cpu, &t.memory],
        &expected.routed,
        Duration::from_secs(120),
    );
    let alerts = wait_for_outputs(
        &bootstrap,
        &[&t.alert],
        &expected.alerts,
        Duration::from_secs(30),
    );
    let streams_status = streams.terminate(Duration::from_secs(60));

    let lost = seen.missing(&expected.routed);
    let lost_alerts = alerts.missing(&expected.alerts);
    // What the producers were told was written, against what is in metric.all.
    let input_lost =
        (load.delivered + agent_figures.sent).saturating_sub(expected.routed.len() as u64);
    let agent_lost = agent_figures.events - expected.from_agent as u64;
    eprintln!(
        "DRILL broker-kill: node {victim} SIGKILLed, back after {:.1}s; loadgen sent={} acked={} failed={}; \
         agent events={} sent={} dropped={} failed={} lost_before_kafka={agent_lost}; \
         input distinct={} -> routed records={} distinct={} lost={} dup={}; alerts expected={} lost={} dup={}; \
         max_gap_ms={}",
        back_after.as_secs_f64(),
        load.events,
        load.delivered,
        load.failed,
        agent_figures.events,
        agent_figures.sent,
        agent_figures.dropped,
        agent_figures.failed,
        expected.routed.len(),
        seen.records,
        seen.count.len(),
        lost.len(),
        seen.duplicates(),
        expected.alerts.len(),
        lost_alerts.len(),
        alerts.duplicates(),
        seen.max_gap_ms(),
    );
    assert_eq!(load.failed, 0, "loadgen deliveries failed");
    assert_eq!(load.delivered, load.events);
    assert_eq!(
        input_lost, 0,
        "acknowledged records missing from the input topic"
    );
    assert_eq!(
        agent_figures.dropped + agent_figures.failed,
        0,
        "{agent_figures:?}"
    );
    assert_eq!(
        agent_lost, 0,
        "agent events never reached Kafka: {agent_figures:?}"
    );
    assert!(
        lost.is_empty() && lost_alerts.is_empty(),
        "{} routed and {} alerts lost, e.g. {:?}\n--- streams ---\n{}",
        lost.len(),
        lost_alerts.len(),
        lost.iter().chain(&lost_alerts).take(5).collect::<Vec<_>>(),
        streams.log()
    );
    assert!(
        streams_status.success(),
        "streams: {streams_status}\n{}",
        streams.log()
    );
}
