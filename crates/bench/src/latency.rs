//! End-to-end latency on a live pipeline: an event's `@timestamp` against its alert's broker
//! timestamp.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metricpipe_kafka::{topics, ClientRole, ClientSettings};
use metricpipe_loadgen::{parse_timestamp, produce, Clock, GenOptions, ProduceOptions, Progress};
use rdkafka::admin::{AdminClient, AdminOptions as RdAdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, Timestamp, TopicPartitionList};
use serde::Serialize;

use crate::contender::{Contender, ALERT_TOPIC, CPU_TOPIC, INPUT_TOPIC, MEMORY_TOPIC};
use crate::procstat;
use crate::BenchError;

#[derive(Debug, Clone)]
pub struct LatencyOptions {
    /// Use this cluster (its topics must exist) instead of starting a local one.
    pub bootstrap_servers: Option<String>,
    /// Events per second into metric.all.
    pub rate: f64,
    pub hosts: u32,
    pub hot_share: f64,
    pub duration: Duration,
    /// Alerts of events stamped earlier than this after the first alert are not counted.
    pub warmup: Duration,
    /// The streams app to start; `None` measures an app that already runs.
    pub streams: Option<Contender>,
    pub work_dir: PathBuf,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(mut v: Vec<f64>) -> Self {
        if v.is_empty() {
            return Percentiles::default();
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
        Percentiles {
            count: v.len(),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: v[v.len() - 1],
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stages {
    /// Which timestamp the metric.all records carried.
    pub input_timestamp_type: String,
    pub to_input: Percentiles,
    pub input_to_alert: Percentiles,
}

#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    pub rate: f64,
    pub hosts: u32,
    pub duration_s: f64,
    pub events_sent: u64,
    /// `alert broker timestamp - @timestamp`.
    pub broker: Percentiles,
    /// Which timestamp the alert records carried: `log_append_time` is the broker's clock.
    pub broker_timestamp_type: String,
    /// `time the bench consumed the alert - @timestamp`: includes the consumer's fetch wait.
    pub received: Percentiles,
    /// The same path in two stages, split at the event's own broker timestamp in
    /// metric.all: `event in metric.all - @timestamp` (the source's producer) and
    /// `alert - event in metric.all` (streams: fetch, route, produce). Which stage holds
    /// the tail is what to tune.
    pub stages: Option<Stages>,
    /// The streams app's CPU over the measured run, % of one core.
    pub streams_cpu_pct_of_core: Option<f64>,
    pub streams_peak_rss_mib: Option<f64>,
    pub machine: procstat::Machine,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn create_topics_for_latency(bootstrap: &str) -> Result<(), BenchError> {
    let admin: AdminClient<DefaultClientContext> = ClientSettings::new(bootstrap)
        .client_config(ClientRole::Admin, std::iter::empty::<(&str, &str)>())
        .create()
        .map_err(|source| BenchError::Kafka {
            what: "creating an admin client",
            source,
        })?;
    // The input and alert topics stamp records with the broker's clock, so the figures are
    // "until the alert is in Kafka", not "until the app called produce()", and the path
    // splits at the moment the event itself reached Kafka.
    let all: Vec<NewTopic<'_>> = [INPUT_TOPIC, CPU_TOPIC, MEMORY_TOPIC, ALERT_TOPIC]
        .iter()
        .map(|t| {
            let topic = NewTopic::new(
                t,
                topics::DEFAULT_PARTITIONS,
                TopicReplication::Fixed(topics::DEFAULT_REPLICATION_FACTOR),
            );
            if *t == INPUT_TOPIC || *t == ALERT_TOPIC {
                topic.set("message.timestamp.type", "LogAppendTime")
            } else {
                topic
            }
        })
        .collect();
    let rt = tokio::runtime::Runtime::new().map_err(|e| BenchError::Io {
        what: "starting a tokio runtime".into(),
        source: e,
    })?;
    let results = rt
        .block_on(admin.create_topics(&all, &RdAdminOptions::new()))
        .map_err(|source| BenchError::Kafka {
            what: "creating topics",
            source,
        })?;
    for r in results {
        if let Err((topic, code)) = r {
            if code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists {
                return Err(BenchError::Setup(format!(
                    "creating {topic} failed: {code}"
                )));
            }
        }
    }
    Ok(())
}

/// Run a paced load through the streams app and time its alerts.
pub fn run_latency(
    opts: &LatencyOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<LatencyReport, BenchError> {
    std::fs::create_dir_all(&opts.work_dir).map_err(|e| BenchError::Io {
        what: format!("creating {}", opts.work_dir.display()),
        source: e,
    })?;
    let mut _cluster = None;
    let bootstrap = match &opts.bootstrap_servers {
        Some(b) => b.clone(),
        None => {
            progress("starting a local 3-node Kafka cluster");
            let cluster =
                metricpipe_local::LocalCluster::up(metricpipe_local::ClusterOptions::ephemeral(3))
                    .map_err(|e| {
                        BenchError::Setup(format!("the local cluster did not start: {e}"))
                    })?;
            let b = cluster.bootstrap_servers();
            _cluster = Some(cluster);
            create_topics_for_latency(&b)?;
            b
        }
    };

    // Read alerts (and the events, for the stages) from their current end, so earlier runs
    // do not count.
    let consumer: BaseConsumer = ClientSettings::new(&bootstrap)
        .client_config(
            ClientRole::Consumer,
            [
                ("group.id", "metricpipe-bench-latency"),
                ("enable.auto.commit", "false"),
                ("fetch.wait.max.ms", "10"),
                ("log_level", "3"),
            ],
        )
        .create()
        .map_err(|source| BenchError::Kafka {
            what: "creating the alert consumer",
            source,
        })?;
    let md = consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .map_err(|source| BenchError::Kafka {
            what: "reading metadata",
            source,
        })?;
    let mut tpl = TopicPartitionList::new();
    for t in md
        .topics()
        .iter()
        .filter(|t| t.name() == ALERT_TOPIC || t.name() == INPUT_TOPIC)
    {
        for p in t.partitions() {
            tpl.add_partition_offset(t.name(), p.id(), Offset::End)
                .map_err(|source| BenchError::Kafka {
                    what: "assigning",
                    source,
                })?;
        }
    }
    if tpl.elements_for_topic(ALERT_TOPIC).is_empty() {
        return Err(BenchError::Setup(format!("topic {ALERT_TOPIC} does not exist at {bootstrap}: run `metricpipe topics create -b {bootstrap}`")));
    }
    consumer.assign(&tpl).map_err(|source| BenchError::Kafka {
        what: "assigning",
        source,
    })?;

    let mut child = None;
    if let Some(c) = &opts.streams {
        let app_id = format!("bench-latency-{}", std::process::id());
        let args = c.expand(&bootstrap, &app_id, &opts.work_dir);
        let log = opts.work_dir.join(format!("{app_id}.log"));
        progress(&format!("starting {} (log: {})", c.name, log.display()));
        child = Some(c.spawn(&args, &log)?);
    }

    let mut load = ProduceOptions::new(&bootstrap, INPUT_TOPIC);
    load.rate = Some(opts.rate);
    load.duration = Some(opts.duration + opts.warmup);
    load.generator = GenOptions {
        hosts: opts.hosts,
        hot_share: opts.hot_share,
        clock: Clock::Wall,
        seed: now_ms() as u64,
        ..GenOptions::default()
    };
    let load_progress = Arc::new(Progress::default());
    let producer = {
        let p = load_progress.clone();
        std::thread::spawn(move || produce(&load, p))
    };
    progress(&format!(
        "sending {} events/s for {:?} (+{:?} warm-up), {:.0}% above the threshold",
        opts.rate,
        opts.duration,
        opts.warmup,
        100.0 * opts.hot_share
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let mut timings = Timings::default();
    let mut warm_from: Option<i64> = None;
    let mut cpu_start: Option<(Instant, f64)> = None;
    let started = Instant::now();
    let hard_end = started + opts.duration + opts.warmup + Duration::from_secs(60);
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() > hard_end {
            break;
        }
        if producer.is_finished() {
            // Give the last alerts a moment, then stop.
            let drain_until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < drain_until {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                    timings.record(&m, warm_from);
                }
            }
            break;
        }
        let Some(msg) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let Ok(msg) = msg else { continue };
        if msg.topic() == INPUT_TOPIC {
            timings.record(&msg, warm_from);
            continue;
        }
        if warm_from.is_none() {
            // The app is up and producing: measure from one warm-up later.
            let w = now_ms() + opts.warmup.as_millis() as i64;
            warm_from = Some(w);
            progress("first alert seen; warming up");
        }
        if cpu_start.is_none() && warm_from.is_some_and(|w| now_ms() >= w) {
            if let Some(c) = &child {
                cpu_start = procstat::sample(c.id()).map(|s| (Instant::now(), s.cpu_s));
            }
        }
        timings.record(&msg, warm_from);
    }
    let mut cpu_pct = None;
    let mut rss = None;
    if let Some(c) = child.as_mut() {
        if let (Some((t0, c0)), Some(s)) = (cpu_start, procstat::sample(c.id())) {
            cpu_pct = Some(100.0 * (s.cpu_s - c0) / t0.elapsed().as_secs_f64().max(1e-9));
            rss = Some((s.hwm_kib as f64 / 1024.0 * 10.0).round() / 10.0);
        }
    }
    let summary = producer
        .join()
        .map_err(|_| BenchError::Setup("the load thread panicked".into()))?
        .map_err(|e| BenchError::Setup(format!("the load failed: {e}")))?;
    if let Some(c) = child.as_mut() {
        c.stop(Duration::from_secs(20));
    }
    if timings.broker.is_empty() {
        return Err(BenchError::Setup(
            "no alert arrived: is the streams app running and reading metric.all? (see its log in the work directory)".into(),
        ));
    }
    Ok(LatencyReport {
        rate: opts.rate,
        hosts: opts.hosts,
        duration_s: opts.duration.as_secs_f64(),
        events_sent: summary.events,
        stages: (!timings.to_input.is_empty()).then(|| Stages {
            input_timestamp_type: timings.input_ts_type.clone(),
            to_input: Percentiles::of(std::mem::take(&mut timings.to_input)),
            input_to_alert: Percentiles::of(std::mem::take(&mut timings.input_to_alert)),
        }),
        broker: Percentiles::of(timings.broker),
        broker_timestamp_type: timings.ts_type,
        received: Percentiles::of(timings.received),
        streams_cpu_pct_of_core: cpu_pct,
        streams_peak_rss_mib: rss,
        machine: procstat::machine(),
    })
}

fn broker_timestamp(msg: &rdkafka::message::BorrowedMessage<'_>) -> (&'static str, Option<i64>) {
    match msg.timestamp() {
        Timestamp::LogAppendTime(t) => ("log_append_time", Some(t)),
        Timestamp::CreateTime(t) => ("create_time", Some(t)),
        Timestamp::NotAvailable => ("none", None),
    }
}

/// A cpu event's identity in both topics: the alert is its `host` plus its `@timestamp`.
fn event_key(host_name: &str, timestamp: &str) -> String {
    format!("{host_name}\u{1f}{timestamp}")
}

#[derive(Default)]
struct Timings {
    broker: Vec<f64>,
    received: Vec<f64>,
    ts_type: String,
    /// Broker timestamps of cpu events in metric.all, by [`event_key`], until their alert.
    input_at: std::collections::HashMap<String, i64>,
    input_ts_type: String,
    to_input: Vec<f64>,
    input_to_alert: Vec<f64>,
}

impl Timings {
    fn record(&mut self, msg: &rdkafka::message::BorrowedMessage<'_>, warm_from: Option<i64>) {
        let now = now_ms();
        let Some(payload) = msg.payload() else { return };
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(payload) else {
            return;
        };
        let is_input = msg.topic() == INPUT_TOPIC;
        let ts_field = if is_input { "@timestamp" } else { "timestamp" };
        let Some(ts_text) = doc.get(ts_field).and_then(|t| t.as_str()) else {
            return;
        };
        let Some(event_ms) = parse_timestamp(ts_text) else {
            return;
        };
        if warm_from.is_none_or(|w| event_ms < w) {
            return;
        }
        let (kind, ts) = broker_timestamp(msg);
        if is_input {
            let is_cpu = doc.pointer("/metricset/name").and_then(|v| v.as_str()) == Some("cpu");
            let host = doc.pointer("/host/name").and_then(|v| v.as_str());
            if let (true, Some(host), Some(t)) = (is_cpu, host, ts) {
                self.input_ts_type = kind.to_string();
                self.input_at.insert(event_key(host, ts_text), t);
            }
            return;
        }
        self.ts_type = kind.to_string();
        let Some(t) = ts else {
            self.received.push((now - event_ms) as f64);
            return;
        };
        self.broker.push((t - event_ms) as f64);
        self.received.push((now - event_ms) as f64);
        let host = doc.pointer("/name").and_then(|v| v.as_str());
        if let Some(input_t) = host.and_then(|h| self.input_at.remove(&event_key(h, ts_text))) {
            self.to_input.push((input_t - event_ms) as f64);
            self.input_to_alert.push((t - input_t) as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_ranked_values() {
        let p = Percentiles::of((1..=100).map(f64::from).collect());
        assert_eq!(p.count, 100);
        assert_eq!(p.p50_ms, 51.0);
        assert_eq!(p.p99_ms, 99.0);
        assert_eq!(p.max_ms, 100.0);
        assert_eq!(Percentiles::of(vec![]).count, 0);
    }
}
