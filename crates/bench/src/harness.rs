//! Running contenders one after another on one backlog, and measuring each.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use metricpipe_admin::{create_topics, AdminOptions, TopicSpec};
use metricpipe_loadgen::{produce, GenOptions, ProduceOptions, Progress, Summary};
use serde::Serialize;

use crate::children::{spawn_tied, stop_child, tail};
use crate::committed::TransactionalWatch;
use crate::contender::{
    Contender, Family, Guarantee, ALERT_TOPIC, CPU_TOPIC, INPUT_TOPIC, KCAT_PASSTHROUGH_TOPIC,
    MEMORY_TOPIC, PASSTHROUGH_TOPIC, STREAMS_PASSTHROUGH_TOPIC,
};
use crate::offsets::Offsets;
use crate::procstat::{self, Machine, ProcSample};
use crate::verdict::{evaluate, summarize_rounds, Ratio, TargetCheck};
use crate::BenchError;

/// What one contender did.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub name: String,
    pub family: Family,
    pub guarantee: Guarantee,
    pub instances: u32,
    /// Input records it had to process.
    pub records: u64,
    /// Records that appeared on its output topics (more than `records` means duplicates);
    /// under exactly-once, the records a read_committed reader sees.
    pub output_records: u64,
    pub alerts: Option<u64>,
    pub expected_alerts: Option<u64>,
    /// From start to the last output record, including start-up and group join.
    pub wall_s: f64,
    /// From start to the first output record.
    pub startup_s: f64,
    /// From the first to the last output record: what records/s is computed over.
    pub processing_s: f64,
    pub records_per_s: f64,
    /// records / wall_s.
    pub records_per_s_wall: f64,
    /// user + system CPU of all its processes, from start to the last output record.
    pub cpu_s: f64,
    /// Largest VmHWM of one instance, MiB.
    pub peak_rss_mib: f64,
    /// Sum of the instances' VmHWM, MiB.
    pub total_peak_rss_mib: f64,
    /// CPU the Kafka brokers spent meanwhile.
    pub broker_cpu_s: Option<f64>,
    /// How busy the whole machine was while it processed, % of all cores.
    pub machine_busy_pct: Option<f64>,
    pub timed_out: bool,
    pub logs: Vec<PathBuf>,
    /// How many rounds this figure sums up: per-round runs are in `BenchReport::runs`.
    pub rounds: u32,
}

/// Everything a contender run needs to know about the setup.
pub struct RunContext<'a> {
    pub bootstrap: String,
    pub work: PathBuf,
    pub broker_pids: Vec<u32>,
    pub records: u64,
    pub expected_alerts: u64,
    pub timeout: Duration,
    /// Called with a line of progress now and then.
    pub progress: &'a (dyn Fn(&str) + Sync),
}

fn broker_cpu(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    Some(
        pids.iter()
            .filter_map(|p| procstat::sample(*p))
            .map(|s| s.cpu_s)
            .sum(),
    )
}

/// Start `c`, wait until its outputs have grown by `records` (or the timeout), measure, stop it.
pub fn run_contender(
    ctx: &RunContext<'_>,
    c: &Contender,
    run_tag: &str,
) -> Result<Measurement, BenchError> {
    let mut offsets = Offsets::new(&ctx.bootstrap)?;
    let before = offsets.end_sum(&c.outputs)?;
    let alerts_before = match &c.alerts {
        Some(t) => Some(offsets.end(t)?),
        None => None,
    };
    let app_id = format!(
        "bench-{}-{run_tag}",
        c.name
            .chars()
            .map(|ch| if ch.is_ascii_alphanumeric() {
                ch.to_ascii_lowercase()
            } else {
                '-'
            })
            .collect::<String>()
    );
    let args = c.expand(&ctx.bootstrap, &app_id, &ctx.work);
    let mut transactional = TransactionalWatch::start(&ctx.bootstrap, c, &app_id, &mut offsets)?;
    let brokers_before = broker_cpu(&ctx.broker_pids);
    let mut children = Vec::new();
    let mut logs = Vec::new();
    let start = Instant::now();
    for i in 0..c.instances {
        let log = ctx.work.join(format!("{app_id}-{i}.log"));
        children.push(spawn_tied(&c.program, &args, &log)?);
        logs.push(log);
    }
    let pids: Vec<u32> = children.iter().map(|ch| ch.id()).collect();
    let mut last: Vec<ProcSample> = vec![ProcSample::default(); pids.len()];
    let mut first_output: Option<Instant> = None;
    let mut first_machine: Option<(u64, u64)> = None;
    let mut first_brokers: Option<f64> = None;
    let mut done_at: Option<Instant> = None;
    let mut produced: i64;
    let mut last_note = Instant::now();
    let mut timed_out = false;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        for (i, pid) in pids.iter().enumerate() {
            if let Some(s) = procstat::sample_tree(*pid) {
                last[i] = last[i].then(s);
            }
        }
        let written = offsets.end_sum(&c.outputs)? - before;
        produced = match transactional.as_mut() {
            Some(t) => t.processed(),
            None => written,
        };
        if written > 0 && first_output.is_none() {
            first_output = Some(Instant::now());
            first_machine = procstat::machine_jiffies();
            first_brokers = broker_cpu(&ctx.broker_pids);
        }
        if produced >= ctx.records as i64 {
            done_at = Some(Instant::now());
            break;
        }
        for (child, log) in children.iter_mut().zip(&logs) {
            if let Ok(Some(status)) = child.try_wait() {
                let detail = format!(
                    "{} exited early ({status}); last lines of {}:\n{}",
                    c.name,
                    log.display(),
                    tail(log, 15)
                );
                for ch in children.iter_mut() {
                    stop_child(ch, Duration::from_secs(5));
                }
                return Err(BenchError::Contender(detail));
            }
        }
        if start.elapsed() > ctx.timeout {
            timed_out = true;
            break;
        }
        if last_note.elapsed() > Duration::from_secs(5) {
            (ctx.progress)(&format!(
                "  {}: {produced}/{} records after {:.0} s",
                c.name,
                ctx.records,
                start.elapsed().as_secs_f64()
            ));
            last_note = Instant::now();
        }
    }
    let end = done_at.unwrap_or_else(Instant::now);
    let machine_end = procstat::machine_jiffies();
    let brokers_end = broker_cpu(&ctx.broker_pids);
    // CPU and peak memory as of the last output record: shutdown is not part of the job.
    let at_done: Vec<ProcSample> = pids
        .iter()
        .enumerate()
        .map(|(i, p)| procstat::sample_tree(*p).map_or(last[i], |s| last[i].then(s)))
        .collect();
    // Alerts trail the routed records by at most a linger and a flush (under exactly-once
    // they are committed with them, and counted below).
    let mut alerts = None;
    if let (Some(topic), Some(before), None) = (&c.alerts, alerts_before, &transactional) {
        let wait_until = Instant::now() + Duration::from_secs(15);
        loop {
            let n = offsets.end(topic)? - before;
            alerts = Some(n.max(0) as u64);
            if n as u64 >= ctx.expected_alerts || Instant::now() > wait_until {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    for ch in children.iter_mut() {
        stop_child(ch, Duration::from_secs(20));
    }
    let mut output_records = produced.max(0) as u64;
    if let Some(t) = &transactional {
        (output_records, alerts) = t.count(&ctx.bootstrap, ctx.progress)?;
    }
    let wall_s = end.duration_since(start).as_secs_f64();
    let first = first_output.unwrap_or(end);
    let processing_s = end.duration_since(first).as_secs_f64();
    let done = produced.max(0) as u64;
    let machine_busy_pct = match (first_machine, machine_end) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            Some(100.0 * (b1 - b0) as f64 / (t1 - t0) as f64)
        }
        _ => None,
    };
    let broker_cpu_s = match (brokers_before.or(first_brokers), brokers_end) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let mib = |k: u64| (k as f64 / 1024.0 * 10.0).round() / 10.0;
    Ok(Measurement {
        name: c.name.clone(),
        family: c.family,
        guarantee: c.guarantee,
        instances: c.instances,
        records: ctx.records,
        output_records,
        alerts,
        expected_alerts: c.alerts.as_ref().map(|_| ctx.expected_alerts),
        wall_s,
        startup_s: first.duration_since(start).as_secs_f64(),
        processing_s,
        records_per_s: if processing_s > 0.0 {
            done.min(ctx.records) as f64 / processing_s
        } else {
            0.0
        },
        records_per_s_wall: done.min(ctx.records) as f64 / wall_s.max(1e-9),
        cpu_s: at_done.iter().map(|s| s.cpu_s).sum(),
        peak_rss_mib: mib(at_done.iter().map(|s| s.hwm_kib).max().unwrap_or(0)),
        total_peak_rss_mib: mib(at_done.iter().map(|s| s.hwm_kib).sum()),
        broker_cpu_s,
        machine_busy_pct,
        timed_out,
        logs,
        rounds: 1,
    })
}

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
    rt.block_on(create_topics(&AdminOptions::new(&bootstrap), &topics))
        .map_err(|e| BenchError::Setup(format!("creating the topics failed: {e}")))?;

    progress(&format!(
        "loading a backlog of {} events into {INPUT_TOPIC}",
        opts.count
    ));
    let mut load = ProduceOptions::new(&bootstrap, INPUT_TOPIC);
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
    let mut offsets = Offsets::new(&bootstrap)?;
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
    let mut warmup_records_per_s = Vec::new();
    if let Some(w) = &opts.warmup {
        for pass in 1..=MAX_WARMUP_PASSES {
            settle_brokers(&ctx.broker_pids);
            progress(&format!("running the {} (pass {pass})", w.name));
            // Each pass (and round) is a new consumer group, so it reads the whole backlog.
            let m = run_contender(&ctx, w, &format!("{run_tag}-w{pass}"))?;
            progress(&format!("  warm-up: {:.0} records/s", m.records_per_s));
            let best = warmup_records_per_s.iter().copied().fold(0.0, f64::max);
            warmup_records_per_s.push(m.records_per_s);
            if m.records_per_s < best * WARMUP_GAIN {
                break;
            }
        }
    }
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
