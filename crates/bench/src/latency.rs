//! End-to-end latency on a live pipeline: an event's `@timestamp` against its alert's broker
//! timestamp.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metricpipe_loadgen::{parse_timestamp, produce, Clock, GenOptions, ProduceOptions, Progress};
use rdkafka::admin::{AdminClient, AdminOptions as RdAdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, Timestamp, TopicPartitionList};
use serde::Serialize;

use crate::contender::{Contender, ALERT_TOPIC, CPU_TOPIC, INPUT_TOPIC, MEMORY_TOPIC};
use crate::harness::{spawn_tied, stop_child};
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
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|source| BenchError::Kafka {
            what: "creating an admin client",
            source,
        })?;
    let plain: Vec<NewTopic<'_>> = [INPUT_TOPIC, CPU_TOPIC, MEMORY_TOPIC]
        .iter()
        .map(|t| NewTopic::new(t, 3, TopicReplication::Fixed(2)))
        .collect();
    // The alert topic stamps records with the broker's clock, so the figure is "until the
    // alert is in Kafka", not "until the app called produce()".
    let alert = NewTopic::new(ALERT_TOPIC, 3, TopicReplication::Fixed(2))
        .set("message.timestamp.type", "LogAppendTime");
    let mut all = plain;
    all.push(alert);
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

    // Read alerts from their current end, so earlier runs do not count.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "metricpipe-bench-latency")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .set("log_level", "3")
        .create()
        .map_err(|source| BenchError::Kafka {
            what: "creating the alert consumer",
            source,
        })?;
    let md = consumer
        .fetch_metadata(Some(ALERT_TOPIC), Duration::from_secs(10))
        .map_err(|source| BenchError::Kafka {
            what: "reading metadata",
            source,
        })?;
    let mut tpl = TopicPartitionList::new();
    for t in md.topics().iter().filter(|t| t.name() == ALERT_TOPIC) {
        for p in t.partitions() {
            tpl.add_partition_offset(ALERT_TOPIC, p.id(), Offset::End)
                .map_err(|source| BenchError::Kafka {
                    what: "assigning",
                    source,
                })?;
        }
    }
    if tpl.count() == 0 {
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
        child = Some(spawn_tied(&c.program, &args, &log)?);
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
    let mut broker = Vec::new();
    let mut received = Vec::new();
    let mut ts_type = "none".to_string();
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
                    record(&m, warm_from, &mut broker, &mut received, &mut ts_type);
                }
            }
            break;
        }
        let Some(msg) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let Ok(msg) = msg else { continue };
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
        record(&msg, warm_from, &mut broker, &mut received, &mut ts_type);
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
        stop_child(c, Duration::from_secs(20));
    }
    if broker.is_empty() {
        return Err(BenchError::Setup(
            "no alert arrived: is the streams app running and reading metric.all? (see its log in the work directory)".into(),
        ));
    }
    Ok(LatencyReport {
        rate: opts.rate,
        hosts: opts.hosts,
        duration_s: opts.duration.as_secs_f64(),
        events_sent: summary.events,
        broker: Percentiles::of(broker),
        broker_timestamp_type: ts_type,
        received: Percentiles::of(received),
        streams_cpu_pct_of_core: cpu_pct,
        streams_peak_rss_mib: rss,
        machine: procstat::machine(),
    })
}

fn record(
    msg: &rdkafka::message::BorrowedMessage<'_>,
    warm_from: Option<i64>,
    broker: &mut Vec<f64>,
    received: &mut Vec<f64>,
    ts_type: &mut String,
) {
    let now = now_ms();
    let Some(payload) = msg.payload() else { return };
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return;
    };
    let Some(event_ms) = doc
        .get("timestamp")
        .and_then(|t| t.as_str())
        .and_then(parse_timestamp)
    else {
        return;
    };
    if warm_from.is_none_or(|w| event_ms < w) {
        return;
    }
    let (kind, ts) = match msg.timestamp() {
        Timestamp::LogAppendTime(t) => ("log_append_time", Some(t)),
        Timestamp::CreateTime(t) => ("create_time", Some(t)),
        Timestamp::NotAvailable => ("none", None),
    };
    *ts_type = kind.to_string();
    if let Some(t) = ts {
        broker.push((t - event_ms) as f64);
    }
    received.push((now - event_ms) as f64);
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
