//! Shared pieces of the reliability drills (`tests/drill_*.rs`): the real `metricpipe`
//! binary as child processes, topics with unique names, reading topics to their end, and
//! the figures every drill prints (lost, duplicates, gaps, RSS, CPU).
//!
//! Identity of a record: loadgen's `event.id`; for an agent's event (no id)
//! `"<metricset.name>@<@timestamp>"`; for an alert `"<host.name>@<timestamp>"`.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

pub const BIN: &str = metricpipe_testkit::metricpipe_bin!();

/// The four pipeline topics plus a dead-letter topic, all with a unique suffix.
pub struct Topics {
    pub app: String,
    pub input: String,
    pub cpu: String,
    pub memory: String,
    pub alert: String,
    pub dlq: String,
}

impl Topics {
    pub fn new(drill: &str) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let id = &id[..12];
        Topics {
            app: format!("{drill}-{id}"),
            input: format!("metric.all.{drill}.{id}"),
            cpu: format!("metric.cpu.{drill}.{id}"),
            memory: format!("metric.memory.{drill}.{id}"),
            alert: format!("metric.cpu.alert.{drill}.{id}"),
            dlq: format!("metric.dlq.{drill}.{id}"),
        }
    }

    /// `metricpipe streams` arguments for these topics (no DLQ).
    pub fn streams_args(&self, bootstrap: &str) -> Vec<String> {
        [
            "streams",
            "--bootstrap-servers",
            bootstrap,
            "--application-id",
            &self.app,
            "--input-topic",
            &self.input,
            "--cpu-topic",
            &self.cpu,
            "--memory-topic",
            &self.memory,
            "--alert-topic",
            &self.alert,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    pub fn pipeline(&self) -> Vec<&str> {
        vec![&self.input, &self.cpu, &self.memory, &self.alert]
    }
}

/// Creates topics with 3 partitions and replication factor 2 (the spec's), plus `configs`.
pub fn create_topics(bootstrap: &str, names: &[&str], configs: &[(&str, &str)]) {
    metricpipe_testkit::create_topics(bootstrap, names, 3, 2, configs);
}

/// The leader of `topic`'s partition `partition`, as a node id.
pub fn leader_of(bootstrap: &str, topic: &str, partition: i32) -> u32 {
    let consumer: BaseConsumer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Consumer, &[])
            .create()
            .expect("consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .expect("metadata");
    let leader = md.topics()[0]
        .partitions()
        .iter()
        .find(|p| p.id() == partition)
        .expect("partition")
        .leader();
    leader as u32
}

/// A child `metricpipe` process whose stderr goes to a log file. Killed if dropped.
pub struct Proc {
    pub name: String,
    pub child: Child,
    log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Proc {
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(name: &str, args: &[S]) -> Proc {
        Self::spawn_in(name, args, Stdio::null())
    }

    /// Like [`Proc::spawn`], keeping stdout to read at exit.
    pub fn spawn_piped<S: AsRef<std::ffi::OsStr>>(name: &str, args: &[S]) -> Proc {
        Self::spawn_in(name, args, Stdio::piped())
    }

    fn spawn_in<S: AsRef<std::ffi::OsStr>>(name: &str, args: &[S], stdout: Stdio) -> Proc {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(BIN)
            .args(args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(file)
            .spawn()
            .expect("spawn metricpipe");
        Proc {
            name: name.into(),
            child,
            log,
            _dir: Some(dir),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The stderr so far, without terminal colours.
    pub fn log(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    pub fn wait_for(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then wait; panics (after SIGKILL) if it does not stop in time.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        self.signal(libc::SIGTERM);
        match self.wait_for(timeout) {
            Some(s) => s,
            None => {
                let _ = self.child.kill();
                panic!(
                    "{} did not stop within {timeout:?} of SIGTERM\n{}",
                    self.name,
                    self.log()
                );
            }
        }
    }

    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stdout, after the process has exited.
    pub fn stdout(&mut self) -> String {
        let mut out = String::new();
        if let Some(s) = self.child.stdout.as_mut() {
            let _ = s.read_to_string(&mut out);
        }
        out
    }

    /// Resident set size in KiB, from /proc/<pid>/status.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// User + system CPU time so far.
    pub fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start at state (field 3).
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|i| f.get(*i).and_then(|v| v.parse::<u64>().ok()))
            .sum();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_millis(ticks * 1000 / hz)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `field=value` of the last log line containing `message`, e.g. the agent's
/// `agent stopped events=62 ... dropped=0`.
pub fn log_field(log: &str, message: &str, field: &str) -> Option<u64> {
    let line = log.lines().rev().find(|l| l.contains(message))?;
    let needle = format!("{field}=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&needle))
        .and_then(|v| v.trim_matches('"').parse().ok())
}

/// The agent's final figures, from its `agent stopped` log line.
#[derive(Debug, Clone, Copy, Default)]
pub struct AgentFigures {
    pub events: u64,
    pub sent: u64,
    pub dropped: u64,
    pub failed: u64,
}

pub fn agent_figures(log: &str) -> AgentFigures {
    let f = |k| {
        log_field(log, "agent stopped", k)
            .unwrap_or_else(|| panic!("no `agent stopped {k}=` in the agent's log:\n{log}"))
    };
    AgentFigures {
        events: f("events"),
        sent: f("sent"),
        dropped: f("dropped"),
        failed: f("failed"),
    }
}

/// A metricbeat.yml for the agent: cpu and memory every second to `topic`.
pub fn agent_yaml(dir: &Path, bootstrap: &str, topic: &str, extra_kafka: &str) -> PathBuf {
    let hosts: Vec<String> = bootstrap.split(',').map(|h| format!("\"{h}\"")).collect();
    let text = format!(
        "name: drill-agent\nmetricbeat.max_start_delay: 0s\n\
         metricbeat.modules:\n- module: system\n  metricsets: [cpu, memory]\n  period: 1s\n\
         output.kafka:\n  hosts: [{}]\n  topic: '{topic}'\n  compression: none\n{extra_kafka}",
        hosts.join(", ")
    );
    let path = dir.join("metricbeat.yml");
    std::fs::write(&path, text).expect("write metricbeat.yml");
    path
}

pub use metricpipe_testkit::read_topic;

/// The identity of a record; see the module doc.
pub fn key_of(value: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(value).ok()?;
    if let Some(id) = v.pointer("/event/id").and_then(|i| i.as_str()) {
        return Some(id.to_string());
    }
    if let (Some(name), Some(ts)) = (
        v.pointer("/metricset/name").and_then(|n| n.as_str()),
        v.get("@timestamp").and_then(|t| t.as_str()),
    ) {
        return Some(format!("{name}@{ts}"));
    }
    let (name, ts) = (v.get("name")?.as_str()?, v.get("timestamp")?.as_str()?);
    Some(format!("{name}@{ts}"))
}

/// What the pipeline must produce from an input topic: the keys of the events that must
/// reach metric.cpu/metric.memory, and of the alerts (events above `threshold`).
#[derive(Default, Debug)]
pub struct Expected {
    pub routed: HashSet<String>,
    pub alerts: HashSet<String>,
    pub from_agent: usize,
}

pub fn expected_from_input(bootstrap: &str, input: &str, threshold: f64) -> Expected {
    let mut e = Expected::default();
    read_topic(bootstrap, input, Duration::from_secs(120), |m| {
        let Some(value) = m.payload() else { return };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(value) else {
            return;
        };
        let kind = v.pointer("/metricset/name").and_then(|n| n.as_str());
        if !matches!(kind, Some("cpu") | Some("memory")) {
            return;
        }
        let Some(key) = key_of(value) else { return };
        let from_agent = v.pointer("/event/id").is_none();
        if e.routed.insert(key) && from_agent {
            e.from_agent += 1;
        }
        let pct = v
            .pointer("/system/cpu/total/norm/pct")
            .and_then(|p| p.as_f64());
        if kind == Some("cpu") && pct.is_some_and(|p| p > threshold) {
            if let (Some(host), Some(ts)) = (
                v.pointer("/host/name").and_then(|h| h.as_str()),
                v.get("@timestamp").and_then(|t| t.as_str()),
            ) {
                e.alerts.insert(format!("{host}@{ts}"));
            }
        }
    });
    e
}

/// Counts of keys on some topics, with the Kafka timestamps of the records.
#[derive(Default, Debug)]
pub struct Seen {
    pub records: u64,
    pub count: HashMap<String, u32>,
    pub timestamps: Vec<i64>,
}

impl Seen {
    pub fn read(bootstrap: &str, topics: &[&str]) -> Seen {
        let mut seen = Seen::default();
        for t in topics {
            read_topic(bootstrap, t, Duration::from_secs(120), |m| {
                seen.records += 1;
                if let Some(ts) = m.timestamp().to_millis() {
                    seen.timestamps.push(ts);
                }
                if let Some(k) = m.payload().and_then(key_of) {
                    *seen.count.entry(k).or_default() += 1;
                }
            });
        }
        seen
    }

    pub fn missing(&self, expected: &HashSet<String>) -> Vec<String> {
        expected
            .iter()
            .filter(|k| !self.count.contains_key(*k))
            .cloned()
            .collect()
    }

    /// Records beyond the first of each key.
    pub fn duplicates(&self) -> u64 {
        self.count.values().map(|c| u64::from(c - 1)).sum()
    }

    /// The longest time between two consecutive output records (by Kafka timestamp).
    pub fn max_gap_ms(&self) -> i64 {
        let mut ts = self.timestamps.clone();
        ts.sort_unstable();
        ts.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
    }
}

/// Reads `topics` again every 2 s until every `expected` key is there (then once more
/// after `settle`, to catch late duplicates) or until `timeout`.
pub fn wait_for_outputs(
    bootstrap: &str,
    topics: &[&str],
    expected: &HashSet<String>,
    timeout: Duration,
) -> Seen {
    let deadline = Instant::now() + timeout;
    loop {
        let seen = Seen::read(bootstrap, topics);
        if seen.missing(expected).is_empty() {
            std::thread::sleep(Duration::from_secs(2));
            return Seen::read(bootstrap, topics);
        }
        if Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Loadgen's `--json` summary.
#[derive(Debug, Default)]
pub struct LoadSummary {
    pub events: u64,
    pub delivered: u64,
    pub failed: u64,
    pub hot: u64,
}

/// `metricpipe loadgen` at `rate` records/s for `secs` from 200 hosts, acks=all, with a
/// `--json` summary on stdout ([`loadgen_summary`]).
pub fn spawn_loadgen(bootstrap: &str, topic: &str, rate: u64, secs: u64, seed: &str) -> Proc {
    let rate = rate.to_string();
    let duration = format!("{secs}s");
    Proc::spawn_piped(
        "loadgen",
        &[
            "loadgen",
            "-b",
            bootstrap,
            "--topic",
            topic,
            "--rate",
            &rate,
            "--duration",
            &duration,
            "--hosts",
            "200",
            "--seed",
            seed,
            "--acks",
            "all",
            "--json",
        ],
    )
}

pub fn loadgen_summary(stdout: &str) -> LoadSummary {
    let v: serde_json::Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("loadgen --json printed no JSON ({e}): {stdout}"));
    let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
    LoadSummary {
        events: n("events"),
        delivered: n("delivered"),
        failed: n("failed"),
        hot: n("hot"),
    }
}

pub use metricpipe_testkit::free_port;

/// GET http://addr/metrics.
pub fn scrape(addr: &str) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Sum of the samples of `name` whose label set contains every one of `labels`.
pub fn metric_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .filter(|l| labels.iter().all(|lab| l.contains(lab)))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum::<f64>()
        + 0.0
}

pub use metricpipe_testkit::wait_until;

/// How far the group `group` is behind on `topic`: the sum over partitions of the end
/// offset minus the committed offset (read without joining the group). Brokers that fail
/// to answer for a moment (a restart, a leader move) are asked again for up to 60 s.
pub fn committed_lag(bootstrap: &str, group: &str, topic: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match try_committed_lag(bootstrap, group, topic) {
            Ok(lag) => return lag,
            Err(e) if Instant::now() < deadline => {
                eprintln!("committed_lag({group}, {topic}): {e}; asking again");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("committed_lag({group}, {topic}): no answer for 60s: {e}"),
        }
    }
}

/// [`committed_lag`], once: the first error is returned.
pub fn try_committed_lag(
    bootstrap: &str,
    group: &str,
    topic: &str,
) -> Result<i64, rdkafka::error::KafkaError> {
    let consumer: BaseConsumer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Consumer, &[])
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()?;
    // Every partition the topic has now (a drill may have added some).
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(30))?;
    let mut tpl = TopicPartitionList::new();
    for p in md
        .topics()
        .first()
        .map(|t| t.partitions())
        .unwrap_or_default()
    {
        tpl.add_partition(topic, p.id());
    }
    let committed = consumer.committed_offsets(tpl, Duration::from_secs(30))?;
    let mut lag = 0;
    for e in committed.elements() {
        let (low, high) =
            consumer.fetch_watermarks(topic, e.partition(), Duration::from_secs(30))?;
        lag += match e.offset() {
            Offset::Offset(o) => high - o,
            _ => high - low,
        };
    }
    Ok(lag)
}

fn admin_and_runtime(
    bootstrap: &str,
) -> (AdminClient<DefaultClientContext>, tokio::runtime::Runtime) {
    let admin = metricpipe_testkit::admin(bootstrap);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    (admin, rt)
}

/// Sets topic configs (AlterConfigs: the topic's other dynamic configs are reset).
pub fn alter_topic_config(bootstrap: &str, topic: &str, configs: &[(&str, &str)]) {
    use rdkafka::admin::{AlterConfig, ResourceSpecifier};
    let (admin, rt) = admin_and_runtime(bootstrap);
    let mut alter = AlterConfig::new(ResourceSpecifier::Topic(topic));
    for (k, v) in configs {
        alter = alter.set(k, v);
    }
    let results = rt
        .block_on(admin.alter_configs([&alter], &AdminOptions::new()))
        .expect("alter configs");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("altering {t:?}: {e}"));
    }
}

pub use metricpipe_testkit::produce_to;

/// Grows `topic` to `total` partitions.
pub fn add_partitions(bootstrap: &str, topic: &str, total: usize) {
    use rdkafka::admin::NewPartitions;
    let (admin, rt) = admin_and_runtime(bootstrap);
    let results = rt
        .block_on(
            admin.create_partitions(&[NewPartitions::new(topic, total)], &AdminOptions::new()),
        )
        .expect("create partitions");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("adding partitions to {t}: {e}"));
    }
}

/// The number of records in `topic` (sum of end minus start offsets).
pub fn topic_records(bootstrap: &str, topic: &str) -> i64 {
    let consumer: BaseConsumer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Consumer, &[])
            .create()
            .expect("consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .expect("metadata");
    md.topics()[0]
        .partitions()
        .iter()
        .map(|p| {
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), Duration::from_secs(30))
                .expect("watermarks");
            high - low
        })
        .sum()
}
