//! Drills 2 and 3 (docs/RELIABILITY.md), `metricpipe streams` as real processes on a real
//! 3-node cluster, fed by `metricpipe loadgen` (acks=all) at 2,000 records/s:
//! - 2: the only instance is SIGKILLed mid-stream and restarted. Target: 0 lost; duplicates
//!   are reported against rate × commit interval and asserted under a tenth of Kafka
//!   Streams' ~10,000 in the same drill.
//! - 3: a second instance joins, then leaves with SIGTERM. Target: 0 lost, 0 duplicates, and
//!   the survivor gets the partitions back without waiting for the session timeout.
//!
//! `streams_failover.rs` covers the two-instance SIGKILL takeover.
//!
//! `cargo test -p metricpipe --test it drill_streams -- --nocapture`

use crate::drill_common;

use std::time::{Duration, Instant};

use drill_common::*;

const RATE: u64 = 2_000;
const LOAD_SECS: u64 = 20;

fn loadgen(bootstrap: &str, topic: &str, seed: &str) -> Proc {
    spawn_loadgen(bootstrap, topic, RATE, LOAD_SECS, seed)
}

fn finish_loadgen(loadgen: &mut Proc) -> LoadSummary {
    let status = loadgen
        .wait_for(Duration::from_secs(LOAD_SECS + 90))
        .unwrap_or_else(|| panic!("loadgen did not finish\n{}", loadgen.log()));
    assert!(status.success(), "loadgen: {status}\n{}", loadgen.log());
    let load = loadgen_summary(&loadgen.stdout());
    assert_eq!((load.failed, load.delivered), (0, load.events));
    load
}

fn assigned_lines(p: &Proc) -> usize {
    p.log().matches("partitions assigned").count()
}

#[test]
fn drill2_streams_sigkill_and_restart() {
    // The drills share the machine's two cores with the binary's other drills: one at a time.
    let _turn = metricpipe_testkit::drill_turn();
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let t = Topics::new("streamskill");
    create_topics(&bootstrap, &t.pipeline(), &[]);
    // The killed member holds its partitions until its session times out: keep that short,
    // as a deployment that restarts crashed instances would.
    let mut args = t.streams_args(&bootstrap);
    args.extend(["-X", "consumer.session.timeout.ms=6000"].map(String::from));

    let mut a = Proc::spawn("streams-a", &args);
    let mut load = loadgen(&bootstrap, &t.input, "21");
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(6));
    // Kill in the steady state, not while the instance still catches up with the input
    // that queued while it joined the group (then the whole producer queue is in flight).
    let caught_up = wait_until(Duration::from_secs(10), || {
        committed_lag(&bootstrap, &t.app, &t.input) < (RATE / 2) as i64
    });
    let kill_at = started.elapsed();
    a.sigkill();
    let killed = Instant::now();
    // Input not yet committed when the instance died: the backlog it had not reached plus
    // what it had processed but not committed (replayed as duplicates).
    let lag_at_kill = committed_lag(&bootstrap, &t.app, &t.input);
    std::thread::sleep(Duration::from_secs(1));
    let mut a2 = Proc::spawn("streams-a2", &args);
    let resumed = wait_until(Duration::from_secs(60), || assigned_lines(&a2) > 0);
    let resumed_after = killed.elapsed();
    assert!(
        resumed,
        "the restarted instance got no partitions\n{}",
        a2.log()
    );
    let load = finish_loadgen(&mut load);

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
    let status = a2.terminate(Duration::from_secs(60));
    let lost = seen.missing(&expected.routed).len() + alerts.missing(&expected.alerts).len();
    // Every input is routed exactly once, so a duplicated routed record is a replayed input;
    // its alert, if any, is duplicated with it.
    let replayed = seen.duplicates();
    let dup = replayed + alerts.duplicates();
    // Rate x the default commit interval (100 ms). A crash also replays what was processed
    // but not yet acknowledged or committed (produce latency + commit round trip): on
    // average half an interval plus those, at worst a whole one plus those. So this is
    // reported, and the assertion holds the Kafka Streams comparison: under a tenth of its
    // ~10,000 duplicates in this drill.
    let per_commit = RATE / 10;
    let bound = 1_000;
    eprintln!(
        "DRILL streams-kill: {} records at {RATE}/s, the only instance SIGKILLed at {:.1}s (caught up: {caught_up}), restarted 1 s later, \
         partitions back after {:.1}s; uncommitted input at the kill={lag_at_kill}; routed distinct={} alerts={} lost={lost} replayed_inputs={replayed} \
         (rate x commit interval = {per_commit}: {}) dup_outputs={dup} (Kafka Streams at 30 s: ~10,000, a tenth = {bound}); max_gap_ms={}",
        load.events,
        kill_at.as_secs_f64(),
        resumed_after.as_secs_f64(),
        seen.count.len(),
        alerts.count.len(),
        if replayed <= per_commit { "within" } else { "above" },
        seen.max_gap_ms(),
    );
    assert_eq!(lost, 0, "records lost\n--- a2 ---\n{}", a2.log());
    // At-least-once's own bound, whatever the timing: only input not committed at the kill
    // can be processed again.
    assert!(
        replayed <= u64::try_from(lag_at_kill).unwrap_or(0),
        "{replayed} inputs replayed, more than the {lag_at_kill} not committed at the kill"
    );
    // The comparison with Kafka Streams holds for a kill in the steady state. An instance
    // still catching up when killed (a loaded machine) has a fetched backlog in flight,
    // which the bound above covers.
    if caught_up {
        assert!(dup < bound, "{dup} duplicates, not under {bound}");
    } else {
        eprintln!("DRILL streams-kill: not caught up at the kill; {dup} duplicates, the {bound} bound not asserted");
    }
    assert!(status.success(), "{status}\n{}", a2.log());
}

#[test]
fn drill3_join_then_graceful_leave() {
    // The drills share the machine's two cores with the binary's other drills: one at a time.
    let _turn = metricpipe_testkit::drill_turn();
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let t = Topics::new("rebalance");
    create_topics(&bootstrap, &t.pipeline(), &[]);
    // Kafka's default session timeout (45 s): a member that did not leave the group would
    // keep its partitions that long.
    let args = t.streams_args(&bootstrap);

    let mut a = Proc::spawn("streams-a", &args);
    let mut load = loadgen(&bootstrap, &t.input, "31");
    assert!(
        wait_until(Duration::from_secs(60), || assigned_lines(&a) > 0),
        "a got no partitions\n{}",
        a.log()
    );
    std::thread::sleep(Duration::from_secs(3));
    let mut b = Proc::spawn("streams-b", &args);
    let joined = Instant::now();
    assert!(
        wait_until(Duration::from_secs(60), || assigned_lines(&b) > 0),
        "b never got partitions\n{}",
        b.log()
    );
    let join_took = joined.elapsed();
    std::thread::sleep(Duration::from_secs(4));
    let a_assignments = assigned_lines(&a);
    let left = Instant::now();
    let b_status = b.terminate(Duration::from_secs(60));
    let leave_took = left.elapsed();
    let back = wait_until(Duration::from_secs(60), || {
        assigned_lines(&a) > a_assignments
    });
    let back_after = left.elapsed();
    assert!(back, "a never got b's partitions back\n{}", a.log());
    let load = finish_loadgen(&mut load);

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
    let a_status = a.terminate(Duration::from_secs(60));
    let lost = seen.missing(&expected.routed).len() + alerts.missing(&expected.alerts).len();
    let dup = seen.duplicates() + alerts.duplicates();
    eprintln!(
        "DRILL rebalance: {} records at {RATE}/s; b joined (partitions after {:.1}s), left on SIGTERM \
         (exited after {:.1}s, a had the partitions back {:.1}s after the SIGTERM; session timeout 45 s); \
         routed distinct={} alerts={} lost={lost} dup={dup} max_gap_ms={}",
        load.events,
        join_took.as_secs_f64(),
        leave_took.as_secs_f64(),
        back_after.as_secs_f64(),
        seen.count.len(),
        alerts.count.len(),
        seen.max_gap_ms(),
    );
    assert_eq!(lost, 0, "--- a ---\n{}\n--- b ---\n{}", a.log(), b.log());
    assert_eq!(dup, 0, "--- a ---\n{}\n--- b ---\n{}", a.log(), b.log());
    assert!(
        back_after < Duration::from_secs(20),
        "a waited {back_after:?} for b's partitions: b did not leave the group"
    );
    assert!(
        b_status.success() && a_status.success(),
        "{b_status} {a_status}"
    );
}
