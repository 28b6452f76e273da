//! Drill 4 (docs/RELIABILITY.md): 10,000 malformed records mixed with 100,000 valid ones on
//! a real 3-node cluster, through `metricpipe streams --dlq-topic`: non-JSON, non-UTF-8,
//! truncated JSON, wrong types, Metricbeat error events, and records over 1 MB (the input
//! topic allows 3 MB). Every valid record is routed; every bad one is counted in /metrics
//! and lands in the DLQ with its reason headers; nothing stalls.
//!
//! `cargo test -p metricpipe --test it drill_poison -- --nocapture`

use crate::drill_common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use drill_common::*;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const VALID: u64 = 100_000;

/// (kind, how many, reasons the topology may give). 10,000 in all.
const KINDS: [(&str, usize, &[&str]); 6] = [
    ("nonjson", 1_800, &["not-json"]),
    ("notutf8", 200, &["not-utf8"]),
    ("trunc", 2_500, &["not-json"]),
    ("types", 2_000, &["mistyped-field", "missing-field"]),
    ("error", 3_490, &["unalertable"]),
    ("huge", 10, &["too-large"]),
];

fn bad_record(kind: &str, n: usize) -> Vec<u8> {
    let id = format!("bad-{kind}-{n}");
    match kind {
        "nonjson" => format!("{id} is not JSON {{\"metricset\":").into_bytes(),
        "notutf8" => {
            let mut v = br#"{"event":{"id":""#.to_vec();
            v.extend_from_slice(id.as_bytes());
            v.extend_from_slice(b"\xff\xfe\"},\"metricset\":{\"name\":\"cpu\"}}");
            v
        }
        "trunc" => {
            let full = format!(
                r#"{{"event":{{"id":"{id}"}},"@timestamp":"2025-12-28T04:56:17.004Z","metricset":{{"name":"cpu","period":10000}},"host":{{"name":"web-1"}},"system":{{"cpu":{{"total":{{"norm":{{"pct":0.9}}}}}}}}}}"#
            );
            full.as_bytes()[..full.len() / 2 + n % 40].to_vec()
        }
        "types" => match n % 4 {
            0 => format!(r#"{{"event":{{"id":"{id}"}},"metricset":{{"name":5}}}}"#),
            1 => format!(r#"{{"event":{{"id":"{id}"}},"metricset":"cpu"}}"#),
            2 => format!(r#"{{"event":{{"id":"{id}"}},"metricset":{{"name":["cpu"]}}}}"#),
            _ => format!(r#"{{"event":{{"id":"{id}"}},"host":{{"name":"web-1"}}}}"#),
        }
        .into_bytes(),
        // What Metricbeat ships when a metricset fails: no system.* object.
        "error" => format!(
            r#"{{"@timestamp":"2025-12-28T04:56:{:02}.{:03}Z","event":{{"id":"{id}","dataset":"system.cpu","module":"system","duration":1200}},"metricset":{{"name":"cpu","period":10000}},"error":{{"message":"open /proc/stat: no such file or directory"}},"host":{{"name":"web-1"}},"service":{{"type":"system"}}}}"#,
            n % 60,
            n % 1000
        )
        .into_bytes(),
        "huge" => {
            let mut v = format!(
                r#"{{"event":{{"id":"{id}"}},"metricset":{{"name":"cpu"}},"pad":""#
            )
            .into_bytes();
            v.resize(v.len() + 1_500_000, b'x');
            v.extend_from_slice(b"\"}");
            v
        }
        _ => unreachable!("a kind of KINDS"),
    }
}

/// `bad-<kind>-<n>` in the first bytes of a value.
fn bad_id(value: &[u8]) -> Option<String> {
    let head = &value[..value.len().min(200)];
    let start = head.windows(4).position(|w| w == b"bad-")?;
    let id: String = head[start..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
        .map(|b| *b as char)
        .collect();
    Some(id)
}

fn produce_bad(bootstrap: &str, topic: &str) -> usize {
    let producer: BaseProducer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Producer, &[])
            .set("acks", "all")
            .set("message.max.bytes", "3000000")
            .set("linger.ms", "5")
            .create()
            .expect("producer");
    // Spread every kind evenly over the run, so bad records sit among the valid ones.
    let mut order: Vec<(f64, &str, usize)> = KINDS
        .iter()
        .flat_map(|(kind, count, _)| (0..*count).map(move |n| (n as f64 / *count as f64, *kind, n)))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut sent = 0;
    for (_, kind, n) in order {
        let value = bad_record(kind, n);
        let mut record = BaseRecord::<(), [u8]>::to(topic).payload(&value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
        producer.poll(Duration::ZERO);
        sent += 1;
        // About 2,000/s, alongside loadgen's backlog.
        if sent % 200 == 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    sent
}

#[test]
fn poison_records_are_dead_lettered_and_valid_ones_routed() {
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let t = Topics::new("poison");
    create_topics(&bootstrap, &[&t.input], &[("max.message.bytes", "3000000")]);
    create_topics(&bootstrap, &[&t.cpu, &t.memory, &t.alert, &t.dlq], &[]);
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let mut args = t.streams_args(&bootstrap);
    args.extend(["--dlq-topic", &t.dlq, "--metrics-addr", &metrics_addr].map(String::from));
    let mut streams = Proc::spawn("streams", &args);

    let started = Instant::now();
    let count = VALID.to_string();
    let mut loadgen = Proc::spawn_piped(
        "loadgen",
        &[
            "loadgen", "-b", &bootstrap, "--topic", &t.input, "--count", &count, "--hosts", "500",
            "--seed", "41", "--acks", "all", "--json",
        ],
    );
    let bad_sent = produce_bad(&bootstrap, &t.input);
    let status = loadgen
        .wait_for(Duration::from_secs(180))
        .unwrap_or_else(|| panic!("loadgen did not finish\n{}", loadgen.log()));
    assert!(status.success(), "loadgen: {status}\n{}", loadgen.log());
    let load = loadgen_summary(&loadgen.stdout());
    let produced_in = started.elapsed();
    assert_eq!((load.events, load.failed), (VALID, 0));
    assert_eq!(bad_sent, 10_000);

    let mut expected = expected_from_input(&bootstrap, &t.input, 0.5);
    // Well-formed, but over --max-record-bytes: rejected before parsing, not routed.
    expected.routed.retain(|k| !k.starts_with("bad-huge-"));
    let errors = KINDS.iter().find(|k| k.0 == "error").map_or(0, |k| k.1);
    assert_eq!(expected.routed.len() as u64, VALID + errors as u64);
    let seen = wait_for_outputs(
        &bootstrap,
        &[&t.cpu, &t.memory],
        &expected.routed,
        Duration::from_secs(240),
    );
    let all_routed_after = started.elapsed();
    let alerts = wait_for_outputs(
        &bootstrap,
        &[&t.alert],
        &expected.alerts,
        Duration::from_secs(60),
    );

    // The dead letters, once their count settles.
    let mut dlq: HashMap<String, String> = HashMap::new();
    let mut dlq_records = 0;
    let mut without_headers = Vec::new();
    let mut not_bad = 0;
    let mut truncated = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        dlq.clear();
        dlq_records = 0;
        without_headers.clear();
        not_bad = 0;
        truncated = 0;
        read_topic(&bootstrap, &t.dlq, Duration::from_secs(60), |m| {
            dlq_records += 1;
            let mut h: HashMap<String, String> = HashMap::new();
            if let Some(headers) = m.headers() {
                for hd in headers.iter() {
                    let v = hd.value.map(|v| String::from_utf8_lossy(v).into_owned());
                    h.insert(hd.key.to_string(), v.unwrap_or_default());
                }
            }
            let Some(id) = m.payload().and_then(bad_id) else {
                not_bad += 1;
                return;
            };
            if h.contains_key("metricpipe.dlq.truncated-from") {
                truncated += 1;
            }
            let complete = [
                "metricpipe.dlq.reason",
                "metricpipe.dlq.detail",
                "metricpipe.dlq.node",
                "metricpipe.source.topic",
                "metricpipe.source.partition",
                "metricpipe.source.offset",
            ]
            .iter()
            .all(|k| h.contains_key(*k));
            if !complete {
                without_headers.push(format!("{id}: {h:?}"));
            }
            dlq.insert(id, h.remove("metricpipe.dlq.reason").unwrap_or_default());
        });
        if dlq.len() >= bad_sent {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let metrics = scrape(&metrics_addr);
    let bad_counted = metric_sum(&metrics, "metricpipe_streams_bad_records_total", &[]);
    let dlq_counted = metric_sum(&metrics, "metricpipe_streams_dlq_records_total", &[]);
    let refused = metric_sum(
        &metrics,
        "metricpipe_streams_bad_records_total",
        &["refused"],
    );
    let streams_status = streams.terminate(Duration::from_secs(60));

    let mut by_reason: HashMap<&str, usize> = HashMap::new();
    let mut wrong_reason = Vec::new();
    let mut missing_bad = Vec::new();
    for (kind, count, reasons) in KINDS {
        for n in 0..count {
            let id = format!("bad-{kind}-{n}");
            match dlq.get(&id) {
                None => missing_bad.push(id),
                Some(r) => {
                    *by_reason.entry(kind).or_default() += 1;
                    if !reasons.contains(&r.as_str()) {
                        wrong_reason.push(format!("{id}: {r}"));
                    }
                }
            }
        }
    }
    let lost = seen.missing(&expected.routed);
    let lost_alerts = alerts.missing(&expected.alerts);
    let distinct_bad: HashSet<&String> = dlq.keys().collect();
    eprintln!(
        "DRILL poison: input valid={VALID} bad={bad_sent} (produced in {:.1}s); routed distinct={} \
         (incl. {errors} error events) lost={} dup={}; alerts expected={} lost={}; \
         DLQ records={dlq_records} distinct bad={} missing={} wrong_reason={} without_headers={} \
         truncated={truncated} not_bad={not_bad} by_kind={by_reason:?}; /metrics bad_records_total={bad_counted} \
         (refused={refused}) dlq_records_total={dlq_counted}; everything routed {:.1}s after the start",
        produced_in.as_secs_f64(),
        seen.count.len(),
        lost.len(),
        seen.duplicates(),
        expected.alerts.len(),
        lost_alerts.len(),
        distinct_bad.len(),
        missing_bad.len(),
        wrong_reason.len(),
        without_headers.len(),
        all_routed_after.as_secs_f64(),
    );
    assert!(
        lost.is_empty() && lost_alerts.is_empty(),
        "valid records not routed: {:?}\n{}",
        lost.iter().chain(&lost_alerts).take(5).collect::<Vec<_>>(),
        streams.log()
    );
    assert!(
        missing_bad.is_empty(),
        "{} bad records not in the DLQ, e.g. {:?}\n{}",
        missing_bad.len(),
        &missing_bad[..missing_bad.len().min(5)],
        streams.log()
    );
    assert!(
        wrong_reason.is_empty(),
        "{:?}",
        &wrong_reason[..wrong_reason.len().min(5)]
    );
    assert!(
        without_headers.is_empty(),
        "{:?}",
        &without_headers[..without_headers.len().min(3)]
    );
    assert_eq!(not_bad, 0, "valid records in the DLQ");
    assert_eq!(
        truncated, 10,
        "the records over 1 MB are dead-lettered truncated"
    );
    assert_eq!(
        bad_counted as usize, bad_sent,
        "bad records in /metrics:\n{metrics}"
    );
    assert_eq!(dlq_counted as usize, bad_sent, "DLQ records in /metrics");
    assert!(
        streams_status.success(),
        "{streams_status}\n{}",
        streams.log()
    );
}
