use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use metricpipe_loadgen::{produce, Clock, GenOptions, ProduceOptions, Progress, Summary};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  metricpipe loadgen -b 127.0.0.1:9092 --count 1000000            # a backlog, as fast as the cluster takes it\n  metricpipe loadgen -b 127.0.0.1:9092 --hosts 500 --rate 100 --duration 10m\n  metricpipe loadgen -b 127.0.0.1:9092 --count 10000 --hot-share 0.5 --seed 7 --json\n\nEvery event carries event.id = \"<seed>-<n>\"; alerts are identified by \"<host.name>@<timestamp>\"."
)]
pub struct LoadgenArgs {
    #[command(flatten)]
    brokers: super::Brokers,
    /// Topic to write to
    #[arg(long, default_value = metricpipe_kafka::topics::INPUT)]
    topic: String,
    /// Simulated hosts; each sends a cpu and a memory event per period
    #[arg(long, default_value_t = 1000)]
    hosts: u32,
    /// Events per second (paced mode). Without it, events go as fast as the cluster acknowledges
    #[arg(long)]
    rate: Option<f64>,
    /// Number of events (backlog mode, or a bound on paced mode)
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this long, e.g. 10m
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Seed of every random choice, and prefix of every id
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of cpu events above the alert threshold, 0..1
    #[arg(long, default_value_t = 0.1)]
    hot_share: f64,
    /// The streams app's alert threshold on system.cpu.total.norm.pct
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// metricset.period, and the spacing of a backlog's timestamps
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    period: Duration,
    /// Producer acks: all, 1 or 0
    #[arg(long, default_value = "all")]
    acks: String,
    /// Producer compression.type: none, gzip, snappy, lz4, zstd
    #[arg(long, default_value = "none")]
    compression: String,
    /// Extra librdkafka producer property, KEY=VALUE (repeatable)
    #[arg(long = "producer-property", value_name = "KEY=VALUE")]
    producer_properties: Vec<String>,
    /// Print the figures as JSON on stdout
    #[arg(long)]
    json: bool,
}

pub fn run(args: LoadgenArgs) -> anyhow::Result<()> {
    let bootstrap = args.brokers.bootstrap_servers.clone();
    produce_events(args).map_err(|e| super::with_local_hint(e, &bootstrap))
}

fn produce_events(args: LoadgenArgs) -> anyhow::Result<()> {
    let mut opts = ProduceOptions::new(&args.brokers.bootstrap_servers, &args.topic);
    opts.generator = GenOptions {
        hosts: args.hosts,
        seed: args.seed,
        hot_share: args.hot_share,
        threshold: args.threshold,
        period_ms: args.period.as_millis() as u64,
        clock: Clock::Wall,
    };
    opts.client_properties = args.brokers.client_properties()?;
    opts.count = args.count;
    opts.rate = args.rate;
    opts.duration = args.duration;
    opts.acks = args.acks.clone();
    opts.compression = args.compression.clone();
    for kv in &args.producer_properties {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--producer-property {kv:?} is not KEY=VALUE"))?;
        opts.client_properties.push((k.into(), v.into()));
    }
    let progress = Arc::new(Progress::default());
    watch_ctrl_c(progress.clone());
    let show_bar = std::io::stderr().is_terminal();
    let worker = {
        let progress = progress.clone();
        let opts = opts.clone();
        std::thread::spawn(move || produce(&opts, progress))
    };
    let start = Instant::now();
    while !worker.is_finished() {
        if show_bar {
            draw_bar(&progress, args.count, start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if show_bar {
        draw_bar(&progress, args.count, start.elapsed());
        eprintln!();
    }
    let summary = worker
        .join()
        .map_err(|_| anyhow::anyhow!("the producer thread panicked"))?
        .context("loadgen")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary);
    }
    if summary.failed > 0 {
        anyhow::bail!(
            "{} of {} events were not delivered (see the log with --log debug)",
            summary.failed,
            summary.events
        );
    }
    Ok(())
}

fn watch_ctrl_c(progress: Arc<Progress>) {
    if super::signals::install().is_err() {
        return;
    }
    std::thread::spawn(move || {
        while !super::signals::requested() {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        progress.stop();
    });
}

fn draw_bar(p: &Progress, total: Option<u64>, elapsed: Duration) {
    let sent = p.generated.load(Ordering::Relaxed);
    let acked = p.delivered.load(Ordering::Relaxed);
    let rate = acked as f64 / elapsed.as_secs_f64().max(0.001);
    let mut line = String::new();
    if let Some(total) = total.filter(|t| *t > 0) {
        let width = 30;
        let done = ((acked as f64 / total as f64) * width as f64) as usize;
        line.push('[');
        line.push_str(&"#".repeat(done.min(width)));
        line.push_str(&"-".repeat(width - done.min(width)));
        line.push_str(&format!("] {:>5.1}% ", 100.0 * acked as f64 / total as f64));
    }
    line.push_str(&format!(
        "{acked} acked / {sent} sent, {rate:.0} events/s, {:.0}s",
        elapsed.as_secs_f64()
    ));
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{line}");
    let _ = err.flush();
}

fn print_summary(s: &Summary) {
    println!(
        "sent {} events to {} ({} cpu, {} memory, {} above the threshold = expected alerts)",
        s.events, s.topic, s.cpu, s.memory, s.hot
    );
    println!(
        "delivered {}, failed {}, in {:.2} s: {:.0} events/s, {:.1} MB/s, {:.0} bytes/event",
        s.delivered,
        s.failed,
        s.elapsed_s,
        s.events_per_s,
        s.mb_per_s,
        s.bytes as f64 / s.events.max(1) as f64
    );
    println!(
        "ids {seed}-{first} .. {seed}-{last} (seed {seed}, {} hosts)",
        s.hosts,
        seed = s.seed,
        first = s.first_seq,
        last = (s.first_seq + s.events).saturating_sub(1)
    );
}
