//! Shared pieces of the secured-cluster tests (`tests/it/secured_*.rs`): each test's own
//! topics, reading a topic as the cluster's super user, `/readyz`, and waiting with a named
//! bound. The SASL_SSL tests share the run's secured cluster
//! (`metricpipe_testkit::secured_cluster`), each with users, topics and groups of its own.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use metricpipe_local::LocalCluster;
use metricpipe_testkit::ClientRole;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

/// A consumer in `group` with the cluster's super-user (admin) settings.
pub fn admin_consumer(cluster: &LocalCluster, group: &str) -> BaseConsumer {
    metricpipe_testkit::settings(&cluster.bootstrap_servers(), &[])
        .layer([
            ("group.id", group),
            ("enable.auto.commit", "false"),
            ("log_level", "3"),
        ])
        .layer(cluster.client_config())
        .config(ClientRole::Consumer, "secured-test-admin", &[])
        .create()
        .expect("admin consumer")
}

/// Every value in `topic` (1 partition) up to its end as of the call, read as the super
/// user. Panics if the end is not reached within 20 s.
pub fn values(cluster: &LocalCluster, topic: &str) -> Vec<Vec<u8>> {
    let consumer = admin_consumer(cluster, "secured-test-reader");
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("partition");
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while (out.len() as i64) < high && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push(m.payload().unwrap_or_default().to_vec());
        }
    }
    assert_eq!(out.len() as i64, high, "read all of {topic}");
    out
}

/// Waits until `f` holds, polling every 250 ms; panics naming `what` after `timeout`.
/// Returns how long it took.
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !f() {
        assert!(started.elapsed() < timeout, "{what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
    started.elapsed()
}

/// `GET /readyz` on 127.0.0.1:`port`: the status and the body.
pub fn readyz(port: u16) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(b"GET /readyz HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        status,
        text.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    ))
}

/// The pipeline's four topics as one secured test names them: the secured tests share one
/// cluster, so each keeps to topics of its own.
pub struct Topics {
    pub all: String,
    pub cpu: String,
    pub memory: String,
    pub alert: String,
}

impl Topics {
    /// `<prefix>metric.all`, `<prefix>metric.cpu`, …; the defaults for an empty prefix.
    pub fn prefixed(prefix: &str) -> Self {
        Topics {
            all: format!("{prefix}metric.all"),
            cpu: format!("{prefix}metric.cpu"),
            memory: format!("{prefix}metric.memory"),
            alert: format!("{prefix}metric.cpu.alert"),
        }
    }

    /// The `--input-topic`, `--cpu-topic`, … arguments of `metricpipe streams`.
    pub fn streams_args(&self) -> Vec<String> {
        [
            ("--input-topic", &self.all),
            ("--cpu-topic", &self.cpu),
            ("--memory-topic", &self.memory),
            ("--alert-topic", &self.alert),
        ]
        .iter()
        .flat_map(|(flag, name)| [flag.to_string(), name.to_string()])
        .collect()
    }
}

/// Creates `topics` (1 partition, RF 1) with `metricpipe topics create` and the cluster's
/// super-user properties file. Returns how long it took.
pub fn create_topics(cluster: &LocalCluster, topics: &Topics) -> Duration {
    let t = Instant::now();
    let admin_props = cluster.client_properties_path().expect("a secured cluster");
    let out = std::process::Command::new(crate::drill_common::BIN)
        .args(["topics", "create", "-b", &cluster.bootstrap_servers()])
        .args(["--partitions", "1", "--replication-factor", "1"])
        .args(["--all-topic", &topics.all, "--cpu-topic", &topics.cpu])
        .args(["--memory-topic", &topics.memory])
        .args(["--alert-topic", &topics.alert])
        .arg("--command-config")
        .arg(&admin_props)
        .output()
        .expect("run topics create");
    assert!(out.status.success(), "topics create: {out:?}");
    t.elapsed()
}

/// metricbeat.yml's `output.kafka` security keys for SCRAM-SHA-512 over TLS with the
/// cluster's CA (`password` as written: a value or `${ENV}`).
pub fn scram_keys(cluster: &LocalCluster, user: &str, password: &str) -> String {
    format!(
        "  username: {user}\n  password: {password}\n  sasl.mechanism: SCRAM-SHA-512\n  ssl.certificate_authorities: [\"{}\"]\n",
        cluster.ca_path().expect("a TLS cluster").display()
    )
}

/// The agent (cpu and memory every second to `topic`) with `keys` added to its
/// `output.kafka`, its data under `dir`, and its endpoints on `port` if given.
pub fn spawn_agent(
    name: &str,
    dir: &std::path::Path,
    cluster: &LocalCluster,
    topic: &str,
    keys: &str,
    port: Option<u16>,
) -> crate::drill_common::Proc {
    let yaml = crate::drill_common::agent_yaml(dir, &cluster.bootstrap_servers(), topic, keys);
    let mut args: Vec<std::ffi::OsString> = vec!["agent".into(), "-e".into(), "-c".into()];
    args.push(yaml.into());
    args.push("--path.data".into());
    args.push(dir.join("data").into());
    if let Some(port) = port {
        args.push("--metrics-addr".into());
        args.push(format!("127.0.0.1:{port}").into());
    }
    crate::drill_common::Proc::spawn(name, &args)
}

/// `metricpipe agent -c metricbeat.yml test output` for `topic` with `keys` added to
/// `output.kafka` (the file written under `dir`): whether it succeeded, and its stdout and
/// stderr.
pub fn agent_test_output(
    dir: &std::path::Path,
    cluster: &LocalCluster,
    topic: &str,
    keys: &str,
) -> (bool, String) {
    let yaml = crate::drill_common::agent_yaml(dir, &cluster.bootstrap_servers(), topic, keys);
    let out = std::process::Command::new(crate::drill_common::BIN)
        .args(["agent", "-c"])
        .arg(&yaml)
        .args(["test", "output"])
        .output()
        .expect("run agent test output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
