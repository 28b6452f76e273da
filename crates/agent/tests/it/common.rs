//! Helpers shared by the Kafka integration tests.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use metricpipe_agent::{AgentOptions, RunningAgent};
use rdkafka::consumer::Consumer;
use rdkafka::{Message, Offset, TopicPartitionList};

pub fn create_topic(bootstrap: &str, name: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let opts = metricpipe_admin::AdminOptions::new(bootstrap);
    let spec = metricpipe_admin::TopicSpec {
        name: name.into(),
        partitions: 3,
        replication_factor: 2,
    };
    rt.block_on(metricpipe_admin::create_topics(&opts, &[spec]))
        .unwrap();
}

pub fn agent_yaml(bootstrap: &str, topic: &str, extra: &str) -> String {
    format!(
        "name: it-agent\nmetricbeat.max_start_delay: 0s\n\
         metricbeat.modules:\n- module: system\n  metricsets: [cpu, memory]\n  period: 1s\n\
         output.kafka:\n  hosts: [\"{bootstrap}\"]\n  topic: '{topic}'\n  compression: none\n{extra}"
    )
}

pub fn start_agent(yaml: &str) -> RunningAgent {
    let mut config = metricpipe_agent::config::from_yaml(yaml).unwrap();
    let data = tempfile::tempdir().unwrap().keep();
    config.path_data = data;
    let mut opts = AgentOptions::new(config);
    opts.cpu_window = Duration::from_millis(200);
    RunningAgent::start(&opts).unwrap()
}

/// A record as read back: partition, key, value.
pub struct Read {
    pub partition: i32,
    pub has_key: bool,
    pub value: serde_json::Value,
}

/// Read `topic` from the beginning until `done` says so or `timeout` passes.
pub fn consume_until(
    bootstrap: &str,
    topic: &str,
    timeout: Duration,
    mut done: impl FnMut(&[Read]) -> bool,
) -> Vec<Read> {
    let consumer = metricpipe_testkit::consumer(bootstrap, &metricpipe_testkit::unique("it"), &[]);
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let started = Instant::now();
    let mut out = Vec::new();
    while started.elapsed() < timeout && !done(&out) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let payload = m.payload().unwrap_or_default();
            let value = serde_json::from_slice(payload)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(payload)));
            out.push(Read {
                partition: m.partition(),
                has_key: m.key().is_some(),
                value,
            });
        }
    }
    out
}

pub fn count(reads: &[Read], metricset: &str) -> usize {
    reads
        .iter()
        .filter(|r| r.value["metricset"]["name"] == metricset)
        .count()
}
