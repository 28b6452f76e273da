//! Issue 27 on a real 3-node cluster: commit points step over transaction markers, so a
//! group that has processed everything shows a lag of 0 on every partition, under both
//! guarantees, in its committed offsets and in `metricpipe_streams_consumer_lag`.
//!
//! The input is written by a transactional producer, as an agent or an upstream
//! exactly-once application would write `metric.all`: partition 0 gets a committed, an
//! aborted and a committed transaction, partition 1 and 2 one committed transaction each,
//! partition 3 only an aborted one. Every partition ends in a marker.
//!
//! `flock /tmp/kafka-tests.lock cargo test -p metricpipe-streams --test it markers`

use std::time::Duration;

use crate::instance::Instance;

use metricpipe_kafka::ClientRole;
use metricpipe_streams::{ProcessingGuarantee, RuntimeConfig};
use metricpipe_testkit::{client_config, consumer, create_topics, wait_until};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const PARTITIONS: i32 = 4;
/// Records of committed transactions: 3 + 2 on partition 0, 2 on 1, 4 on 2.
const COMMITTED_RECORDS: u64 = 11;
const TIMEOUT: Duration = Duration::from_secs(90);

/// A Metricbeat event as the agent writes it to `metric.all`.
fn event(host: &str, pct: f64) -> String {
    format!(
        r#"{{"@timestamp":"2026-12-07T22:00:00.000Z","metricset":{{"name":"cpu","period":10000}},"service":{{"type":"system"}},"host":{{"name":"{host}"}},"system":{{"cpu":{{"total":{{"norm":{{"pct":{pct}}}}}}}}}}}"#
    )
}

/// Writes the transactions of the module docs; returns each partition's end offset.
fn write_transactions(bootstrap: &str, topic: &str) -> Vec<i64> {
    let transactional_id = format!("markers-{topic}");
    let producer: BaseProducer = client_config(
        bootstrap,
        ClientRole::Producer,
        &[("transactional.id", &transactional_id)],
    )
    .create()
    .unwrap();
    let t = Duration::from_secs(30);
    producer.init_transactions(t).unwrap();
    // (partition, records, commit)
    let plan = [
        (0, 3, true),
        (0, 2, false),
        (0, 2, true),
        (1, 2, true),
        (2, 4, true),
        (3, 3, false),
    ];
    for (partition, records, commit) in plan {
        producer.begin_transaction().unwrap();
        for i in 0..records {
            let value = event(&format!("host-{partition}"), f64::from(i) / 10.0);
            let record = BaseRecord::<(), str>::to(topic)
                .partition(partition)
                .payload(value.as_str());
            producer.send(record).map_err(|(e, _)| e).unwrap();
        }
        // The records reach the log (and so take their offsets) before either ends; an
        // abort also needs their delivery reports served.
        producer.flush(t).unwrap();
        if commit {
            producer.commit_transaction(t).unwrap();
        } else {
            producer.abort_transaction(t).unwrap();
        }
    }
    let reader: BaseConsumer = client_config(bootstrap, ClientRole::Consumer, &[])
        .create()
        .unwrap();
    (0..PARTITIONS)
        .map(|p| reader.fetch_watermarks(topic, p, t).unwrap().1)
        .collect()
}

fn committed(bootstrap: &str, group: &str, topic: &str) -> Vec<Option<i64>> {
    let c = consumer(bootstrap, group, &[]);
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let Ok(got) = c.committed_offsets(tpl, Duration::from_secs(10)) else {
        return vec![None; PARTITIONS as usize];
    };
    got.elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        })
        .collect()
}

/// `metricpipe_streams_consumer_lag` of each of `topic`'s partitions, as /metrics shows it.
fn lag_gauges(topic: &str) -> Vec<Option<f64>> {
    let text = metricpipe_telemetry::install_recorder().unwrap().render();
    (0..PARTITIONS)
        .map(|p| {
            let (t, part) = (format!("topic=\"{topic}\""), format!("partition=\"{p}\""));
            text.lines()
                .filter(|l| l.starts_with("metricpipe_streams_consumer_lag{"))
                .find(|l| l.contains(&t) && l.contains(&part))
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        })
        .collect()
}

fn caught_up_with_lag_zero(guarantee: ProcessingGuarantee) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let bootstrap = metricpipe_testkit::shared_cluster().bootstrap_servers();
    let (app, input, output) = (format!("app-{id}"), format!("in-{id}"), format!("out-{id}"));
    create_topics(&bootstrap, &[&input], PARTITIONS, 2, &[]);
    create_topics(&bootstrap, &[&output], 1, 2, &[]);
    let ends = write_transactions(&bootstrap, &input);
    assert!(ends.iter().all(|&e| e > 0), "{ends:?}");
    metricpipe_telemetry::install_recorder().unwrap();

    let mut config = RuntimeConfig::new(bootstrap.clone(), app.clone());
    config.processing_guarantee = guarantee;
    // librdkafka's statistics, where the lag gauge comes from, once a second.
    config.client = config.client.layer([("statistics.interval.ms", "1000")]);
    let instance = Instance::start(config, &input, &output);
    let want: Vec<Option<i64>> = ends.iter().map(|&e| Some(e)).collect();
    let at_end = wait_until(TIMEOUT, || committed(&bootstrap, &app, &input) == want);
    let seen = committed(&bootstrap, &app, &input);
    let zero = vec![Some(0.0); PARTITIONS as usize];
    let lag_zero = at_end && wait_until(Duration::from_secs(30), || lag_gauges(&input) == zero);
    let gauges = lag_gauges(&input);
    let summary = instance.stop().unwrap();
    assert!(
        at_end,
        "{guarantee}: committed offsets {seen:?}, log end offsets {ends:?}"
    );
    assert!(
        lag_zero,
        "{guarantee}: metricpipe_streams_consumer_lag {gauges:?}"
    );
    assert_eq!(summary.records_in, COMMITTED_RECORDS, "{guarantee}");
    assert_eq!(summary.records_out, COMMITTED_RECORDS, "{guarantee}");
    // After the stop (its final commit included) nothing moved back.
    assert_eq!(committed(&bootstrap, &app, &input), want, "{guarantee}");
}

#[test]
fn at_least_once_commits_past_trailing_markers() {
    caught_up_with_lag_zero(ProcessingGuarantee::AtLeastOnce);
}

#[test]
fn exactly_once_v2_commits_past_trailing_markers() {
    caught_up_with_lag_zero(ProcessingGuarantee::ExactlyOnceV2);
}
