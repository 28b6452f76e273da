//! One run of one contender: start its instances, watch its outputs grow by the backlog,
//! sample their CPU and memory, stop them, and turn what was seen into a [`Measurement`].

use std::path::PathBuf;
use std::time::{Duration, Instant};

use metricpipe_local::TiedChild;

use crate::committed::TransactionalWatch;
use crate::contender::Contender;
use crate::offsets::Offsets;
use crate::procstat::{self, ProcSample};
use crate::verdict::Measurement;
use crate::BenchError;

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

/// The CPU-seconds the broker processes have used so far; `None` without brokers of ours.
pub(crate) fn broker_cpu(pids: &[u32]) -> Option<f64> {
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

/// The consumer group / application id of one run of `c`: its name in lower-case
/// letters and dashes, and the run's tag.
fn app_id(c: &Contender, run_tag: &str) -> String {
    let name: String = c
        .name
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() {
                ch.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("bench-{name}-{run_tag}")
}

/// What watching a run saw, up to its last output record (or the timeout).
struct Watched {
    start: Instant,
    first_output: Option<Instant>,
    first_machine: Option<(u64, u64)>,
    first_brokers: Option<f64>,
    done_at: Option<Instant>,
    produced: i64,
    timed_out: bool,
    /// Each instance's CPU and peak memory at the last sample.
    last: Vec<ProcSample>,
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
    let app_id = app_id(c, run_tag);
    let args = c.expand(&ctx.bootstrap, &app_id, &ctx.work);
    let mut transactional = TransactionalWatch::start(&ctx.bootstrap, c, &app_id, &mut offsets)?;
    let brokers_before = broker_cpu(&ctx.broker_pids);
    let mut children = Vec::new();
    let mut logs = Vec::new();
    let start = Instant::now();
    for i in 0..c.instances {
        let log = ctx.work.join(format!("{app_id}-{i}.log"));
        children.push(c.spawn(&args, &log)?);
        logs.push(log);
    }
    let watched = watch(
        ctx,
        c,
        &mut offsets,
        before,
        &mut transactional,
        &mut children,
        start,
    )?;
    let end = watched.done_at.unwrap_or_else(Instant::now);
    let machine_end = procstat::machine_jiffies();
    let brokers_end = broker_cpu(&ctx.broker_pids);
    // CPU and peak memory as of the last output record: shutdown is not part of the job.
    let at_done: Vec<ProcSample> = children
        .iter()
        .zip(&watched.last)
        .map(|(ch, last)| procstat::sample_tree(ch.id()).map_or(*last, |s| last.then(s)))
        .collect();
    // Alerts trail the routed records by at most a linger and a flush (under exactly-once
    // they are committed with them, and counted below).
    let mut alerts = None;
    if let (Some(topic), Some(before), None) = (&c.alerts, alerts_before, &transactional) {
        alerts = Some(wait_for_alerts(ctx, &mut offsets, topic, before)?);
    }
    for ch in children.iter_mut() {
        ch.stop(Duration::from_secs(20));
    }
    let mut output_records = watched.produced.max(0) as u64;
    if let Some(t) = &transactional {
        (output_records, alerts) = t.count(&ctx.bootstrap, ctx.progress)?;
    }
    let machine_busy_pct = match (watched.first_machine, machine_end) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            Some(100.0 * (b1 - b0) as f64 / (t1 - t0) as f64)
        }
        _ => None,
    };
    let broker_cpu_s = match (brokers_before.or(watched.first_brokers), brokers_end) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let figures = Figures {
        output_records,
        alerts,
        end,
        at_done,
        broker_cpu_s,
        machine_busy_pct,
        logs,
    };
    Ok(measurement(ctx, c, &watched, figures))
}

/// Samples the instances every 100 ms until the outputs have grown by `ctx.records`, an
/// instance exits (an error, with the end of its log) or the timeout passes.
fn watch(
    ctx: &RunContext<'_>,
    c: &Contender,
    offsets: &mut Offsets,
    before: i64,
    transactional: &mut Option<TransactionalWatch>,
    children: &mut [TiedChild],
    start: Instant,
) -> Result<Watched, BenchError> {
    let mut w = Watched {
        start,
        first_output: None,
        first_machine: None,
        first_brokers: None,
        done_at: None,
        produced: 0,
        timed_out: false,
        last: vec![ProcSample::default(); children.len()],
    };
    let mut last_note = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        for (i, ch) in children.iter().enumerate() {
            if let Some(s) = procstat::sample_tree(ch.id()) {
                w.last[i] = w.last[i].then(s);
            }
        }
        let written = offsets.end_sum(&c.outputs)? - before;
        w.produced = match transactional.as_mut() {
            Some(t) => t.processed(),
            None => written,
        };
        if written > 0 && w.first_output.is_none() {
            w.first_output = Some(Instant::now());
            w.first_machine = procstat::machine_jiffies();
            w.first_brokers = broker_cpu(&ctx.broker_pids);
        }
        if w.produced >= ctx.records as i64 {
            w.done_at = Some(Instant::now());
            return Ok(w);
        }
        check_running(c, children)?;
        if start.elapsed() > ctx.timeout {
            w.timed_out = true;
            return Ok(w);
        }
        if last_note.elapsed() > Duration::from_secs(5) {
            (ctx.progress)(&format!(
                "  {}: {}/{} records after {:.0} s",
                c.name,
                w.produced,
                ctx.records,
                start.elapsed().as_secs_f64()
            ));
            last_note = Instant::now();
        }
    }
}

/// An instance that exited before the job was done stops the others and fails the run.
fn check_running(c: &Contender, children: &mut [TiedChild]) -> Result<(), BenchError> {
    for i in 0..children.len() {
        if let Some(status) = children[i].exited() {
            let detail = format!(
                "{} exited early ({status}); last lines of {}:\n{}",
                c.name,
                children[i].log().display(),
                children[i].tail(15)
            );
            for ch in children.iter_mut() {
                ch.stop(Duration::from_secs(5));
            }
            return Err(BenchError::Contender(detail));
        }
    }
    Ok(())
}

/// The alerts written to `topic` since `before`, once they reach `ctx.expected_alerts` or
/// 15 s have passed.
fn wait_for_alerts(
    ctx: &RunContext<'_>,
    offsets: &mut Offsets,
    topic: &str,
    before: i64,
) -> Result<u64, BenchError> {
    let wait_until = Instant::now() + Duration::from_secs(15);
    loop {
        let n = offsets.end(topic)? - before;
        if n as u64 >= ctx.expected_alerts || Instant::now() > wait_until {
            return Ok(n.max(0) as u64);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The figures of a run gathered after watching it.
struct Figures {
    output_records: u64,
    alerts: Option<u64>,
    end: Instant,
    at_done: Vec<ProcSample>,
    broker_cpu_s: Option<f64>,
    machine_busy_pct: Option<f64>,
    logs: Vec<PathBuf>,
}

fn measurement(ctx: &RunContext<'_>, c: &Contender, w: &Watched, f: Figures) -> Measurement {
    let wall_s = f.end.duration_since(w.start).as_secs_f64();
    let first = w.first_output.unwrap_or(f.end);
    let processing_s = f.end.duration_since(first).as_secs_f64();
    let done = w.produced.max(0) as u64;
    let mib = |k: u64| (k as f64 / 1024.0 * 10.0).round() / 10.0;
    Measurement {
        name: c.name.clone(),
        family: c.family,
        guarantee: c.guarantee,
        instances: c.instances,
        records: ctx.records,
        output_records: f.output_records,
        alerts: f.alerts,
        expected_alerts: c.alerts.as_ref().map(|_| ctx.expected_alerts),
        wall_s,
        startup_s: first.duration_since(w.start).as_secs_f64(),
        processing_s,
        records_per_s: if processing_s > 0.0 {
            done.min(ctx.records) as f64 / processing_s
        } else {
            0.0
        },
        records_per_s_wall: done.min(ctx.records) as f64 / wall_s.max(1e-9),
        cpu_s: f.at_done.iter().map(|s| s.cpu_s).sum(),
        peak_rss_mib: mib(f.at_done.iter().map(|s| s.hwm_kib).max().unwrap_or(0)),
        total_peak_rss_mib: mib(f.at_done.iter().map(|s| s.hwm_kib).sum()),
        broker_cpu_s: f.broker_cpu_s,
        machine_busy_pct: f.machine_busy_pct,
        timed_out: w.timed_out,
        logs: f.logs,
        rounds: 1,
    }
}
