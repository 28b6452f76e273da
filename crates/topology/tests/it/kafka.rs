//! End to end on a real 3-node local cluster: records in the input topic, the runtime
//! running the metric topology, and exactly the right records in the cpu, memory, alert and
//! dead-letter topics; then the committed offsets cover the whole input.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use metricpipe_streams::{dlq_headers, RuntimeConfig};
use metricpipe_topology::{metric_topology, MetricTopologyConfig, Topics};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

fn create_topics(bootstrap: &str, names: &[&str], config: &[(&str, &str)]) {
    metricpipe_testkit::create_topics(bootstrap, names, 3, 2, config);
}

fn produce(bootstrap: &str, topic: &str, values: &[Vec<u8>]) {
    let producer: BaseProducer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Producer, &[])
            .set("message.timeout.ms", "60000")
            .set("message.max.bytes", "3000000")
            .create()
            .unwrap();
    for v in values {
        let mut record = BaseRecord::<(), [u8]>::to(topic).payload(v.as_slice());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
}

type Received = Vec<(Vec<u8>, HashMap<String, String>)>;

/// Reads `topics` from the beginning until `want` records per topic arrived (then a little
/// longer, to catch extras) or `timeout` passed.
fn consume(
    bootstrap: &str,
    want: &HashMap<String, usize>,
    timeout: Duration,
) -> HashMap<String, Received> {
    let consumer: BaseConsumer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Consumer, &[])
            .set("group.id", format!("check-{}", uuid::Uuid::new_v4()))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .unwrap();
    let mut tpl = TopicPartitionList::new();
    for t in want.keys() {
        for p in 0..3 {
            tpl.add_partition_offset(t, p, Offset::Beginning).unwrap();
        }
    }
    consumer.assign(&tpl).unwrap();
    let mut got: HashMap<String, Received> = want.keys().map(|t| (t.clone(), Vec::new())).collect();
    let deadline = Instant::now() + timeout;
    let mut settle: Option<Instant> = None;
    while Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            (
                                h.key.to_string(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            got.entry(m.topic().to_string())
                .or_default()
                .push((m.payload().unwrap_or_default().to_vec(), headers));
        }
        let done = want
            .iter()
            .all(|(t, n)| got.get(t).map_or(0, Vec::len) >= *n);
        match (done, settle) {
            (true, None) => settle = Some(Instant::now() + Duration::from_secs(2)),
            (true, Some(s)) if Instant::now() >= s => break,
            _ => {}
        }
    }
    got
}

fn cpu(id: usize, pct: &str) -> Vec<u8> {
    format!(
        r#"{{"@timestamp":"2025-12-28T04:56:{:02}.004Z","metricset":{{"name":"cpu","period":10000}},"host":{{"name":"web-{id}","cpu":{{"usage":{pct}}}}},"system":{{"cpu":{{"cores":4,"total":{{"pct":1,"norm":{{"pct":{pct}}}}}}}}}}}"#,
        id % 60
    )
    .into_bytes()
}

fn memory(id: usize) -> Vec<u8> {
    format!(r#"{{"@timestamp":"t","metricset":{{"name":"memory"}},"host":{{"name":"db-{id}"}},"system":{{"memory":{{"total":1}}}}}}"#).into_bytes()
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

#[test]
fn routes_alerts_and_dead_letters_on_a_real_cluster() {
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let topics = Topics {
        input: format!("metric.all.{run}"),
        cpu: format!("metric.cpu.{run}"),
        memory: format!("metric.memory.{run}"),
        alert: format!("metric.cpu.alert.{run}"),
    };
    let dlq = format!("metric.dlq.{run}");
    // The input takes records up to 3 MB; the outputs keep the broker default (~1 MB).
    create_topics(
        &bootstrap,
        &[&topics.input],
        &[("max.message.bytes", "3000000")],
    );
    create_topics(
        &bootstrap,
        &[&topics.cpu, &topics.memory, &topics.alert, &dlq],
        &[],
    );

    let seed = include_str!("../data/metricbeat-9.2.3-stream.jsonl");
    let mut inputs: Vec<Vec<u8>> = seed.lines().map(|l| l.as_bytes().to_vec()).collect();
    let (mut want_cpu, mut want_memory, mut want_alert) = (Vec::new(), Vec::new(), Vec::new());
    for l in seed.lines() {
        if l.contains(r#""dataset":"system.cpu""#) {
            want_cpu.push(l.as_bytes().to_vec());
        } else {
            want_memory.push(l.as_bytes().to_vec());
        }
    }
    for i in 0..300 {
        let pct = if i % 2 == 0 { "0.9" } else { "0.1" };
        let v = cpu(i, pct);
        want_cpu.push(v.clone());
        if i % 2 == 0 {
            want_alert.push(
                format!(r#"{{"name":"web-{i}","cpu":{{"usage":0.9}},"timestamp":"2025-12-28T04:56:{:02}.004Z"}}"#, i % 60)
                    .into_bytes(),
            );
        }
        inputs.push(v);
    }
    for i in 0..200 {
        want_memory.push(memory(i));
        inputs.push(memory(i));
    }
    let mut bad: Vec<Vec<u8>> = (0..20)
        .map(|i| format!("not json {i}").into_bytes())
        .collect();
    bad.push(b"\xff\xfe\xfd".to_vec());
    let error_events: Vec<Vec<u8>> = (0..10)
        .map(|i| {
            format!(
                r#"{{"@timestamp":"t","metricset":{{"name":"cpu"}},"error":{{"message":"e{i}"}}}}"#
            )
            .into_bytes()
        })
        .collect();
    want_cpu.extend(error_events.iter().cloned());
    inputs.extend(bad.iter().cloned());
    inputs.extend(error_events.iter().cloned());
    inputs.push(br#"{"metricset":{"name":"network"}}"#.to_vec());
    // A 1.5 MB cpu record: over the 1 MB limit, so dead-lettered (cut to 900,000 bytes).
    let huge = format!(
        r#"{{"metricset":{{"name":"cpu"}},"pad":"{}"}}"#,
        "x".repeat(1_500_000)
    )
    .into_bytes();
    inputs.push(huge.clone());
    produce(&bootstrap, &topics.input, &inputs);

    let mut config = RuntimeConfig::new(bootstrap.clone(), format!("app-{run}"));
    config.dlq_topic = Some(dlq.clone());
    let topology = metric_topology(&MetricTopologyConfig {
        topics: topics.clone(),
        ..MetricTopologyConfig::default()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let runner = {
        let stop = Arc::clone(&stop);
        let config = config.clone();
        std::thread::spawn(move || metricpipe_streams::run(&topology, &config, stop))
    };

    let want: HashMap<String, usize> = [
        (topics.cpu.clone(), want_cpu.len()),
        (topics.memory.clone(), want_memory.len()),
        (topics.alert.clone(), want_alert.len()),
        (dlq.clone(), bad.len() + error_events.len() + 1),
    ]
    .into_iter()
    .collect();
    let got = consume(&bootstrap, &want, Duration::from_secs(120));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let summary = runner.join().unwrap().unwrap();

    let values = |t: &str| got[t].iter().map(|(v, _)| v.clone()).collect::<Vec<_>>();
    assert_eq!(sorted(values(&topics.cpu)), sorted(want_cpu));
    assert_eq!(sorted(values(&topics.memory)), sorted(want_memory));
    assert_eq!(sorted(values(&topics.alert)), sorted(want_alert));
    let dead = &got[&dlq];
    assert_eq!(dead.len(), bad.len() + error_events.len() + 1);
    let mut reasons: HashMap<String, usize> = HashMap::new();
    for (value, headers) in dead {
        let reason = headers
            .get(dlq_headers::REASON)
            .cloned()
            .unwrap_or_default();
        *reasons.entry(reason.clone()).or_default() += 1;
        assert!(
            headers.contains_key(dlq_headers::SOURCE_OFFSET),
            "{headers:?}"
        );
        if reason == "too-large" {
            assert_eq!(value.as_slice(), &huge[..900_000]);
            assert_eq!(
                headers.get(dlq_headers::TRUNCATED_FROM),
                Some(&huge.len().to_string())
            );
        } else if reason == "unalertable" {
            assert!(error_events.contains(value));
            assert_eq!(headers.get(dlq_headers::ROUTED), Some(&topics.cpu));
        } else {
            assert!(bad.contains(value));
        }
    }
    assert_eq!(reasons.get("not-json"), Some(&20));
    assert_eq!(reasons.get("not-utf8"), Some(&1));
    assert_eq!(reasons.get("unalertable"), Some(&10));
    assert_eq!(reasons.get("too-large"), Some(&1));
    assert_eq!(summary.records_in, inputs.len() as u64);

    // Everything was committed on shutdown: the group's offsets are the end of the input.
    let check: BaseConsumer = metricpipe_testkit::client_config(
        &bootstrap,
        metricpipe_testkit::ClientRole::Consumer,
        &[],
    )
    .set("group.id", format!("app-{run}"))
    .create()
    .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition(&topics.input, p);
    }
    let committed = check
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    let mut total = 0;
    for e in committed.elements() {
        let (_, high) = check
            .fetch_watermarks(&topics.input, e.partition(), Duration::from_secs(10))
            .unwrap();
        assert_eq!(
            e.offset(),
            Offset::Offset(high),
            "partition {}",
            e.partition()
        );
        total += high;
    }
    assert_eq!(total, inputs.len() as i64);
}
