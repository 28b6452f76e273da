//! Drill 8 (docs/RELIABILITY.md), exactly-once: `metricpipe streams --processing-guarantee
//! exactly_once_v2` as a real process on a real 3-node cluster, fed by `metricpipe loadgen`
//! (acks=all) at 2,000 records/s. A broker is SIGKILLed (and restarted), then the streams
//! instance is SIGKILLed mid-transaction and restarted. Target: a `read_committed`
//! consumer sees every input routed exactly once and every alert exactly once: 0 lost,
//! 0 duplicates. A `read_uncommitted` reader is also counted, to show what the aborted
//! transactions held.
//!
//! The instance is given a stable transactional id (`-X producer.transactional.id`), so the
//! restarted one fences the killed producer and aborts its open transaction at once (with
//! the default, a random one per start, read_committed readers would wait for the
//! coordinator to abort it after `transaction.timeout.ms`, 60 s).
//!
//! `flock /tmp/kafka.lock cargo test -p metricpipe --test it drill_exactly_once -- --nocapture`

use crate::drill_common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use drill_common::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

const RATE: u64 = 2_000;
const LOAD_SECS: u64 = 30;

fn loadgen(bootstrap: &str, topic: &str) -> Proc {
    spawn_loadgen(bootstrap, topic, RATE, LOAD_SECS, "81")
}

/// Counts of keys on `topics` as a consumer with `isolation` sees them, read to the end
/// (for read_committed: the last stable offset, which must reach the high watermark).
fn read_keys(bootstrap: &str, topics: &[&str], isolation: &str) -> (u64, HashMap<String, u32>) {
    let consumer: BaseConsumer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Consumer, &[])
            .set("group.id", "drill-eos-reader")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("isolation.level", isolation)
            .set("log_level", "3")
            .create()
            .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for t in topics {
        for p in 0..3 {
            let (_, high) = consumer
                .fetch_watermarks(t, p, Duration::from_secs(30))
                .expect("watermarks");
            ends.insert((t.to_string(), p), high);
            tpl.add_partition_offset(t, p, Offset::Beginning)
                .expect("assign");
        }
    }
    consumer.assign(&tpl).expect("assign");
    let mut at_end: HashMap<(String, i32), bool> = HashMap::new();
    let (mut records, mut count) = (0, HashMap::new());
    let deadline = Instant::now() + Duration::from_secs(90);
    while at_end.len() < ends.len() || at_end.values().any(|e| !e) {
        assert!(
            Instant::now() < deadline,
            "reading {topics:?} ({isolation}) did not reach the end"
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                records += 1;
                if let Some(k) = m.payload().and_then(key_of) {
                    *count.entry(k).or_insert(0u32) += 1;
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                // EOF of which topic: the position that reached its end says.
                let positions = consumer.position().expect("position");
                for e in positions.elements() {
                    if e.partition() != p {
                        continue;
                    }
                    let key = (e.topic().to_string(), p);
                    let end = ends[&key];
                    let pos = match e.offset() {
                        Offset::Offset(o) => o,
                        _ => 0,
                    };
                    // read_committed stops at the last stable offset: an open transaction
                    // left behind shows as an EOF short of the high watermark.
                    at_end.insert(key, pos >= end || end == 0);
                }
            }
            _ => {}
        }
    }
    (records, count)
}

/// `committed_lag`, `i64::MAX` while the cluster still settles after a broker restart
/// (its metadata requests may fail for a moment).
fn lag(bootstrap: &str, group: &str, topic: &str) -> i64 {
    try_committed_lag(bootstrap, group, topic).unwrap_or(i64::MAX)
}

fn missing_and_dup(
    count: &HashMap<String, u32>,
    expected: &std::collections::HashSet<String>,
) -> (usize, u64) {
    let missing = expected.iter().filter(|k| !count.contains_key(*k)).count();
    let dup = count.values().map(|c| u64::from(c - 1)).sum();
    (missing, dup)
}

#[test]
fn exactly_once_through_a_broker_kill_and_a_streams_kill() {
    let begun = Instant::now();
    // Kills a broker: the binary's kill-drill cluster, not the run's shared one.
    let drill = metricpipe_testkit::kill_drill_cluster();
    let cluster = drill.cluster();
    let bootstrap = cluster.bootstrap_servers();
    let cluster_took = begun.elapsed();
    let t = Topics::new("eos");
    create_topics(&bootstrap, &t.pipeline(), &[]);
    let mut args = t.streams_args(&bootstrap);
    // The killed member holds its partitions until its session times out: keep that short,
    // as drill 2 does.
    args.extend(
        [
            "--processing-guarantee",
            "exactly_once_v2",
            "-X",
            "consumer.session.timeout.ms=6000",
        ]
        .map(String::from),
    );
    args.extend([
        "-X".to_string(),
        format!("producer.transactional.id={}-1", t.app),
    ]);

    let mut a = Proc::spawn("streams-eos-a", &args);
    // The first transactional producer of a cluster waits for the transaction state log
    // to be created: start the load once the instance processes.
    assert!(
        wait_until(Duration::from_secs(90), || a
            .log()
            .contains("partitions assigned")),
        "the instance got no partitions\n{}",
        a.log()
    );
    let mut load = loadgen(&bootstrap, &t.input);
    std::thread::sleep(Duration::from_secs(4));
    let victim = leader_of(&bootstrap, &t.cpu, 0);
    cluster.kill(victim).unwrap();
    std::thread::sleep(Duration::from_secs(5));
    // Starting a broker takes seconds of JVM start-up: the drill goes on meanwhile.
    let restart = std::thread::spawn(move || cluster.start(victim));
    // Kill once transactions commit again after the outage if that comes within 15 s
    // (the outage can stall a transaction for longer: the previous one's markers wait for
    // the dead broker's partitions to move), and mid-load either way.
    let caught_up_at_kill = wait_until(Duration::from_secs(15), || {
        lag(&bootstrap, &t.app, &t.input) < (RATE / 2) as i64
    });
    std::thread::sleep(Duration::from_millis(500));
    let kill_at = Instant::now();
    let mid_load = load.running();
    a.sigkill();
    std::thread::sleep(Duration::from_secs(1));
    let mut a2 = Proc::spawn("streams-eos-a2", &args);
    let resumed = wait_until(Duration::from_secs(60), || {
        a2.log().contains("partitions assigned")
    });
    assert!(
        resumed,
        "the restarted instance got no partitions\n{}",
        a2.log()
    );
    let resumed_after = kill_at.elapsed();
    let status = load
        .wait_for(Duration::from_secs(LOAD_SECS + 90))
        .unwrap_or_else(|| panic!("loadgen did not finish\n{}", load.log()));
    assert!(status.success(), "loadgen: {status}\n{}", load.log());
    let summary = loadgen_summary(&load.stdout());
    assert_eq!((summary.failed, summary.delivered), (0, summary.events));
    restart.join().expect("restart thread").unwrap();
    cluster.wait_ready(3, Duration::from_secs(60)).unwrap();
    let caught_up = wait_until(Duration::from_secs(90), || {
        lag(&bootstrap, &t.app, &t.input) == 0
    });
    let a2_status = a2.terminate(Duration::from_secs(60));

    let expected = expected_from_input(&bootstrap, &t.input, 0.5);
    let (routed_records, routed) = read_keys(&bootstrap, &[&t.cpu, &t.memory], "read_committed");
    let (alert_records, alerts) = read_keys(&bootstrap, &[&t.alert], "read_committed");
    let (uncommitted_records, uncommitted) =
        read_keys(&bootstrap, &[&t.cpu, &t.memory], "read_uncommitted");
    let (lost, dup) = missing_and_dup(&routed, &expected.routed);
    let (lost_alerts, dup_alerts) = missing_and_dup(&alerts, &expected.alerts);
    let (_, dup_uncommitted) = missing_and_dup(&uncommitted, &expected.routed);
    eprintln!(
        "DRILL exactly-once: {} records at {RATE}/s; node {victim} SIGKILLed for 5 s, then streams SIGKILLed and \
         restarted 1 s later (mid-load: {mid_load}, caught up at the kill: {caught_up_at_kill}; partitions back after {:.1}s, all committed: {caught_up}); read_committed: routed \
         records={routed_records} distinct={} lost={lost} dup={dup}, alerts records={alert_records} expected={} \
         lost={lost_alerts} dup={dup_alerts}; read_uncommitted: routed records={uncommitted_records} \
         (aborted transactions' records seen as duplicates: {dup_uncommitted})",
        summary.events,
        resumed_after.as_secs_f64(),
        routed.len(),
        expected.alerts.len(),
    );
    let logs = format!("--- a ---\n{}\n--- a2 ---\n{}", a.log(), a2.log());
    if let Some(path) = std::env::var_os("DRILL_LOGS") {
        std::fs::write(path, &logs).expect("write DRILL_LOGS");
    }
    eprintln!(
        "DRILL exactly-once: aborted transactions: a={} a2={}; cluster up in {:.0}s, drill {:.0}s",
        a.log().matches("transaction aborted").count(),
        a2.log().matches("transaction aborted").count(),
        cluster_took.as_secs_f64(),
        (begun.elapsed() - cluster_took).as_secs_f64(),
    );
    assert!(caught_up, "the input was not all committed\n{logs}");
    assert!(mid_load, "the load had ended before the kill");
    assert_eq!(
        expected.routed.len() as u64,
        summary.events,
        "input records"
    );
    assert_eq!((lost, dup), (0, 0), "routed records\n{logs}");
    assert_eq!((lost_alerts, dup_alerts), (0, 0), "alerts\n{logs}");
    assert_eq!(
        routed_records, summary.events,
        "every record has an event id"
    );
    assert!(a2_status.success(), "{a2_status}\n{logs}");
}
