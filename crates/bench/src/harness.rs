//! Running contenders one after another on one backlog, and measuring each.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use metricpipe_admin::{create_topics, AdminOptions, TopicSpec};
use metricpipe_loadgen::{produce, GenOptions, ProduceOptions, Progress, Summary};
use serde::Serialize;

use crate::contender::{
    Contender, ALERT_TOPIC, CPU_TOPIC, INPUT_TOPIC, KCAT_PASSTHROUGH_TOPIC, MEMORY_TOPIC,
    PASSTHROUGH_TOPIC, STREAMS_PASSTHROUGH_TOPIC,
};
use crate::offsets::Offsets;
use crate::procstat::{self, Machine};
use crate::run::{broker_cpu, run_contender, RunContext};
use crate::verdict::{evaluate, summarize_rounds, Measurement, Ratio, TargetCheck};
use crate::BenchError;

/// The whole benchmark's settings.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Backlog size.
    pub count: u64,
    pub hosts: u32,
    pub seed: u64,
    pub hot_share: f64,
    /// Use this cluster instead of starting a local 3-node one. Its topics must be empty.
    pub bootstrap_servers: Option<String>,
    pub contenders: Vec<Contender>,
    /// Run over the backlog before the contenders, and not reported, until a pass is no
    /// longer clearly faster than the one before (at most [`MAX_WARMUP_PASSES`]): brokers
    /// fresh from the backlog load are cold (their JIT has only seen produce requests), and
    /// kept getting faster for minutes. One pass was not enough: in one run the same streams
    /// binary made 136k records/s first and 189k two contenders later.
    pub warmup: Option<Contender>,
    /// Each contender runs this many times, the order reversed every other round so that
    /// none always runs on the warmest brokers. Reported: the median of its runs.
    pub rounds: u32,
    pub work_dir: PathBuf,
    /// Per contender.
    pub timeout: Duration,
}

/// The bench's JSON output.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub machine: Machine,
    pub rounds: u32,
    pub warmup_records_per_s: Vec<f64>,
    /// Every run, in the order they ran.
    pub runs: Vec<Measurement>,
    pub started_at: String,
    pub brokers: usize,
    pub partitions: i32,
    pub replication_factor: i32,
    pub backlog: Summary,
    /// One per contender: the median of its rounds (see [`summarize_rounds`]).
    pub results: Vec<Measurement>,
    pub ratios: Vec<Ratio>,
    pub targets: Vec<TargetCheck>,
}

fn rfc3339_now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut s = String::new();
    metricpipe_loadgen::push_timestamp(&mut s, ms);
    s
}

/// Start (or use) a cluster, load the backlog once, run every contender in turn.
pub fn run_bench(
    opts: &BenchOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<BenchReport, BenchError> {
    std::fs::create_dir_all(&opts.work_dir).map_err(|e| BenchError::Io {
        what: format!("creating {}", opts.work_dir.display()),
        source: e,
    })?;
    let mut _cluster = None;
    let (bootstrap, broker_pids, brokers) = match &opts.bootstrap_servers {
        Some(b) => (b.clone(), Vec::new(), 0),
        None => {
            progress("starting a local 3-node Kafka cluster");
            let cluster =
                metricpipe_local::LocalCluster::up(metricpipe_local::ClusterOptions::ephemeral(3))
                    .map_err(|e| {
                        BenchError::Setup(format!("the local cluster did not start: {e}"))
                    })?;
            let b = cluster.bootstrap_servers();
            let pids = cluster.status().iter().filter_map(|n| n.pid).collect();
            _cluster = Some(cluster);
            (b, pids, 3)
        }
    };
    let (partitions, replication_factor) = (
        metricpipe_kafka::topics::DEFAULT_PARTITIONS,
        metricpipe_kafka::topics::DEFAULT_REPLICATION_FACTOR,
    );
    create_bench_topics(&bootstrap, partitions, replication_factor)?;

    let (backlog, records) = load_backlog(opts, &bootstrap, progress)?;

    let run_tag = format!("{}", std::process::id());
    let ctx = RunContext {
        bootstrap: bootstrap.clone(),
        work: opts.work_dir.clone(),
        broker_pids,
        records,
        expected_alerts: backlog.hot,
        timeout: opts.timeout,
        progress,
    };
    let warmup_records_per_s = match &opts.warmup {
        Some(w) => warm_up(&ctx, w, &run_tag)?,
        None => Vec::new(),
    };
    let rounds = opts.rounds.max(1);
    let mut runs = Vec::new();
    for round in 0..rounds {
        let order: Vec<&Contender> = if round % 2 == 0 {
            opts.contenders.iter().collect()
        } else {
            opts.contenders.iter().rev().collect()
        };
        if rounds > 1 {
            progress(&format!("round {} of {rounds}", round + 1));
        }
        runs.extend(run_round(&ctx, &order, &format!("{run_tag}-r{round}"))?);
    }
    let results = summarize_rounds(&runs, &opts.contenders);
    let (ratios, targets) = evaluate(&results);
    Ok(BenchReport {
        machine: procstat::machine(),
        rounds,
        warmup_records_per_s,
        runs,
        started_at: rfc3339_now(),
        brokers,
        partitions,
        replication_factor,
        backlog,
        results,
        ratios,
        targets,
    })
}

/// The pipeline's topics and the ceilings' output topics on `bootstrap`.
fn create_bench_topics(
    bootstrap: &str,
    partitions: i32,
    replication_factor: i32,
) -> Result<(), BenchError> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| BenchError::Io {
        what: "starting a tokio runtime".into(),
        source: e,
    })?;
    let topics: Vec<TopicSpec> = [
        INPUT_TOPIC,
        CPU_TOPIC,
        MEMORY_TOPIC,
        ALERT_TOPIC,
        PASSTHROUGH_TOPIC,
        STREAMS_PASSTHROUGH_TOPIC,
        KCAT_PASSTHROUGH_TOPIC,
    ]
    .iter()
    .map(|t| TopicSpec {
        name: t.to_string(),
        partitions,
        replication_factor,
    })
    .collect();
    rt.block_on(create_topics(&AdminOptions::new(bootstrap), &topics))
        .map_err(|e| BenchError::Setup(format!("creating the topics failed: {e}")))?;
    Ok(())
}

/// Loads the backlog into the input topic; returns what loadgen wrote and the input's end
/// offset sum, the records each contender has to process.
fn load_backlog(
    opts: &BenchOptions,
    bootstrap: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(Summary, u64), BenchError> {
    progress(&format!(
        "loading a backlog of {} events into {INPUT_TOPIC}",
        opts.count
    ));
    let mut load = ProduceOptions::new(bootstrap, INPUT_TOPIC);
    load.count = Some(opts.count);
    load.generator = GenOptions {
        hosts: opts.hosts,
        seed: opts.seed,
        hot_share: opts.hot_share,
        ..GenOptions::default()
    };
    let backlog = produce(&load, Arc::new(Progress::default()))
        .map_err(|e| BenchError::Setup(format!("loading the backlog failed: {e}")))?;
    if backlog.failed > 0 {
        return Err(BenchError::Setup(format!(
            "{} backlog events were not delivered",
            backlog.failed
        )));
    }
    let mut offsets = Offsets::new(bootstrap)?;
    let records = offsets.end(INPUT_TOPIC)? as u64;
    progress(&format!(
        "backlog: {} events ({} cpu, {} memory, {} above the threshold), {:.0} bytes each, loaded at {:.0}/s",
        backlog.events,
        backlog.cpu,
        backlog.memory,
        backlog.hot,
        backlog.bytes as f64 / backlog.events.max(1) as f64,
        backlog.events_per_s
    ));
    Ok((backlog, records))
}

/// The unreported warm-up passes: records/s of each.
fn warm_up(ctx: &RunContext<'_>, w: &Contender, run_tag: &str) -> Result<Vec<f64>, BenchError> {
    let progress = ctx.progress;
    let mut warmup_records_per_s = Vec::new();
    for pass in 1..=MAX_WARMUP_PASSES {
        settle_brokers(&ctx.broker_pids);
        progress(&format!("running the {} (pass {pass})", w.name));
        // Each pass (and round) is a new consumer group, so it reads the whole backlog.
        let m = run_contender(ctx, w, &format!("{run_tag}-w{pass}"))?;
        progress(&format!("  warm-up: {:.0} records/s", m.records_per_s));
        let best = warmup_records_per_s.iter().copied().fold(0.0, f64::max);
        warmup_records_per_s.push(m.records_per_s);
        if m.records_per_s < best * WARMUP_GAIN {
            break;
        }
    }
    Ok(warmup_records_per_s)
}

/// Warm-up passes stop once one is less than this much faster than the best before it.
const WARMUP_GAIN: f64 = 1.05;
pub const MAX_WARMUP_PASSES: u32 = 6;

fn run_round(
    ctx: &RunContext<'_>,
    contenders: &[&Contender],
    run_tag: &str,
) -> Result<Vec<Measurement>, BenchError> {
    let progress = ctx.progress;
    let mut results = Vec::new();
    for c in contenders {
        // Let the brokers settle (log flushes, replica fetches) first: after the backlog load
        // as much as after another contender, or the first contender pays for the load.
        let settled = settle_brokers(&ctx.broker_pids);
        progress(&format!(
            "running {} (brokers settled after {:.1}s)",
            c.name,
            settled.as_secs_f64()
        ));
        let m = run_contender(ctx, c, run_tag)?;
        progress(&format!(
            "  {}: {:.0} records/s, {:.1} CPU-s, {:.1} MiB peak RSS{}",
            m.name,
            m.records_per_s,
            m.cpu_s,
            m.peak_rss_mib,
            if m.timed_out { " (timed out)" } else { "" }
        ));
        results.push(m);
    }
    Ok(results)
}

/// Syncs, then waits until the brokers used under a tenth of a core for a whole second
/// (at least 3 s, at most 60 s), and returns how long that took.
fn settle_brokers(broker_pids: &[u32]) -> Duration {
    const QUIET_CORE_SHARE: f64 = 0.1;
    let started = Instant::now();
    // Write the dirty pages out now (the backlog, the last contender's outputs): the
    // kernel's own writeback, 30 s later, would compete with the next contender.
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    std::thread::sleep(Duration::from_secs(2));
    while started.elapsed() < Duration::from_secs(60) {
        let before = broker_cpu(broker_pids);
        std::thread::sleep(Duration::from_secs(1));
        // With no brokers of ours to watch (--bootstrap-servers), 3 s it is.
        let used = broker_cpu(broker_pids).zip(before).map(|(now, b)| now - b);
        if used.is_none_or(|u| u < QUIET_CORE_SHARE) {
            break;
        }
    }
    started.elapsed()
}
