use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use metricpipe_bench::{
    passthrough, render_latency, render_summary, run_bench, run_latency, suite, BenchOptions,
    Contender, LatencyOptions, PassthroughOptions, SuitePlan,
};

#[derive(Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  metricpipe bench                                  # 1,000,000 events: streams, Java 1 and 3 threads, ceiling\n  metricpipe bench --count 200000 --scale-out --out bench-results.json\n  metricpipe bench --count 500000 --skip-java --stream-threads 1,2,3 --scale-out   # the scale-out curve\n  metricpipe bench --count 2000 --skip-java         # a smoke run, well under a minute\n  metricpipe bench --count 500000 --skip-java --exactly-once   # what exactly_once_v2 costs\n  metricpipe bench latency --rate 1000 --duration 60s\n\nBuild in release mode first (cargo build --release); the Java twin is built with Maven from bench/java when needed."
)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    #[command(flatten)]
    suite: SuiteArgs,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The pass-through ceiling: consume and produce again with no parsing (a contender of the bench)
    #[command(
        after_help = "Example:\n  metricpipe bench passthrough -b 127.0.0.1:9092 --input metric.all --output bench.passthrough"
    )]
    Passthrough(PassthroughArgs),
    /// End-to-end latency: a paced load through the streams app, alert broker time - @timestamp
    #[command(
        after_help = "Examples:\n  metricpipe bench latency --rate 1000 --duration 60s          # own cluster, starts metricpipe streams\n  metricpipe bench latency -b 127.0.0.1:9092 --no-spawn         # an app that already runs"
    )]
    Latency(LatencyArgs),
    /// Count a topic's records, distinct loadgen ids and duplicates (loss and duplicate checks)
    #[command(
        after_help = "Example:\n  metricpipe bench count -b 127.0.0.1:9092 --topic metric.cpu --json"
    )]
    Count(CountArgs),
}

#[derive(Args)]
struct CountArgs {
    #[command(flatten)]
    brokers: super::Brokers,
    /// The topic to count
    #[arg(long)]
    topic: String,
    /// Give up if the topic's current end is not reached in this long
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(mut_arg("bootstrap_servers", |a| a.help(
    "Use this cluster instead of a fresh local one (its topics should be empty); comma-separated HOST:PORT"
)))]
struct SuiteArgs {
    /// Backlog size, in events
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
    /// Simulated hosts in the backlog
    #[arg(long, default_value_t = 1000)]
    hosts: u32,
    /// Seed of the backlog's random choices and prefix of its event ids (as loadgen --seed)
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of cpu events above the alert threshold, 0..1
    #[arg(long, default_value_t = 0.1)]
    hot_share: f64,
    #[command(flatten)]
    brokers: super::OptionalBrokers,
    /// Leave out our streams app
    #[arg(long)]
    skip_streams: bool,
    /// Leave out the Java twin's at-least-once runs (--java-exactly-once adds its others)
    #[arg(long)]
    skip_java: bool,
    /// Also run our streams app with --processing-guarantee exactly_once_v2 on the same
    /// backlog; its outputs are counted by a read_committed reader, not by end offsets
    #[arg(long)]
    exactly_once: bool,
    /// Also run the Java twin with processing.guarantee=exactly_once_v2, once per
    /// --java-threads count (with --skip-java, only these); much slower than the rest
    #[arg(long)]
    java_exactly_once: bool,
    /// Leave out the pass-through ceilings (the rdkafka loop, `streams --pass-through` and
    /// the kcat pipe)
    #[arg(long)]
    skip_ceiling: bool,
    /// kcat for the external ceiling, `kcat -C | kcat -P` [default: `kcat` on PATH; the
    /// ceiling is left out with a note when there is none]
    #[arg(long, value_name = "PATH")]
    kcat: Option<PathBuf>,
    /// Skip the unreported warm-up pass over the backlog (a pass-through loop) that warms the
    /// brokers' JIT and caches, so that the first contender does not pay for it
    #[arg(long)]
    no_warmup: bool,
    /// Run every contender this many times, reversing the order every other round, and
    /// report each one's median: the brokers keep warming up, so a single pass favours
    /// whichever contender runs last
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=9))]
    rounds: u32,
    /// Stream thread counts of the Java runs
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    java_threads: Vec<u32>,
    /// Also run 2 and 3 instances of our streams app in one group
    #[arg(long)]
    scale_out: bool,
    /// Also run one instance of our streams app with each of these stream thread counts
    /// (`--num-stream-threads`), e.g. 1,2,3: the scale-out curve by threads. Threads beyond
    /// the input's partitions (3) get none
    #[arg(long, value_delimiter = ',', value_name = "N,...", value_parser = clap::value_parser!(u16).range(1..))]
    stream_threads: Vec<u16>,
    /// Extra flags (space-separated) for the scale-out runs only, e.g. a variant's settings
    #[arg(long, value_name = "FLAGS", allow_hyphen_values = true)]
    scale_out_flags: Option<String>,
    /// Extra flag for `metricpipe streams` (repeatable), e.g. --streams-arg=--commit-interval=1s
    #[arg(long = "streams-arg", allow_hyphen_values = true)]
    streams_args: Vec<String>,
    /// Another run of our streams app with other flags, LABEL=FLAGS (space-separated), e.g.
    /// --streams-variant 'tuned=-Xconsumer.fetch.queue.backoff.ms=10' (repeatable)
    #[arg(long = "streams-variant", value_name = "LABEL=FLAGS")]
    streams_variants: Vec<String>,
    /// Extra flag for the ceiling (repeatable), e.g. --ceiling-arg=--property=linger.ms=20
    #[arg(long = "ceiling-arg", allow_hyphen_values = true)]
    ceiling_args: Vec<String>,
    /// The Java twin's Maven project
    #[arg(long, default_value = "bench/java")]
    java_dir: PathBuf,
    /// Where the JSON results go
    #[arg(long, default_value = "bench-results.json")]
    out: PathBuf,
    /// Where contenders' logs go (default: a new directory under /tmp)
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Give up on a contender after this long
    #[arg(long, default_value = "20m", value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

#[derive(Args)]
struct PassthroughArgs {
    #[command(flatten)]
    brokers: super::Brokers,
    /// Consumer group of the pass-through loop
    #[arg(long, default_value = "metricpipe-passthrough")]
    group_id: String,
    /// Topic to read
    #[arg(long, default_value = metricpipe_kafka::topics::INPUT)]
    input: String,
    /// Topic to write every record to, untouched
    #[arg(long, default_value = "bench.passthrough")]
    output: String,
    /// librdkafka property KEY=VALUE (repeatable); prefix consumer. or producer. for one side
    #[arg(long = "property", value_name = "KEY=VALUE")]
    properties: Vec<String>,
}

#[derive(Args)]
#[command(mut_arg("bootstrap_servers", |a| a.help(
    "Use this cluster (default: start a local one, with a LogAppendTime alert topic); comma-separated HOST:PORT"
)))]
struct LatencyArgs {
    #[command(flatten)]
    brokers: super::OptionalBrokers,
    /// Events per second into metric.all
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Simulated hosts; each sends a cpu and a memory event per period
    #[arg(long, default_value_t = 1000)]
    hosts: u32,
    /// Share of cpu events above the threshold, 0..1: each becomes an alert to time
    #[arg(long, default_value_t = 0.5)]
    hot_share: f64,
    /// How long the paced load runs, e.g. 60s or 5m
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Alerts of events stamped this soon after the first alert are not timed. A live
    /// pipeline runs on warm brokers: fresh JVMs compiling their hot paths doubled the p99
    /// in the first half minute (source -> metric.all p99 450 ms, then 7 ms)
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Measure a streams app that already runs instead of starting one
    #[arg(long)]
    no_spawn: bool,
    /// Extra flag for `metricpipe streams` (repeatable)
    #[arg(long = "streams-arg", allow_hyphen_values = true)]
    streams_args: Vec<String>,
    /// Also write the figures here as JSON
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the streams app's log goes (default: a new directory under /tmp)
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        Some(BenchCommand::Passthrough(a)) => run_passthrough(a),
        Some(BenchCommand::Latency(a)) => latency(a),
        Some(BenchCommand::Count(a)) => count(a),
        None => suite(args.suite),
    }
}

fn note(line: &str) {
    eprintln!("{line}");
}

fn work_dir(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("metricpipe-bench-{}", std::process::id()))
    })
}

fn suite(a: SuiteArgs) -> anyhow::Result<()> {
    if a.count == 0 {
        bail!("--count must be at least 1");
    }
    let exe = std::env::current_exe().context("finding the metricpipe binary")?;
    if cfg!(debug_assertions) {
        note("warning: this is a debug build; figures are only meaningful from `cargo build --release`");
    }
    let plan = SuitePlan {
        skip_streams: a.skip_streams,
        skip_java: a.skip_java,
        exactly_once: a.exactly_once,
        java_exactly_once: a.java_exactly_once,
        skip_ceiling: a.skip_ceiling,
        kcat: a.kcat,
        scale_out: a.scale_out,
        scale_out_flags: a.scale_out_flags,
        stream_threads: a.stream_threads,
        streams_args: a.streams_args,
        streams_variants: a.streams_variants,
        ceiling_args: a.ceiling_args.clone(),
        java_threads: a.java_threads,
        java_dir: a.java_dir,
    };
    let contenders = plan.contenders(&exe, &note)?;
    let work = work_dir(a.work_dir);
    note(&format!("logs and state go to {}", work.display()));
    let options = BenchOptions {
        count: a.count,
        hosts: a.hosts,
        seed: a.seed,
        hot_share: a.hot_share,
        bootstrap_servers: a.brokers.bootstrap_servers,
        contenders,
        warmup: (!a.no_warmup).then(|| suite::warmup(&exe, &a.ceiling_args)),
        work_dir: work,
        rounds: a.rounds,
        timeout: a.timeout,
    };
    let report = run_bench(&options, &note)?;
    println!();
    print!("{}", render_summary(&report));
    std::fs::write(&a.out, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", a.out.display()))?;
    println!("\nresults written to {}", a.out.display());
    let incomplete = suite::incomplete(&report);
    if !incomplete.is_empty() {
        bail!(
            "these contenders did not finish the job (outputs or alerts short, or timed out): {}; their logs are in the work directory",
            incomplete.join(", ")
        );
    }
    Ok(())
}

fn parse_properties(kvs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    kvs.iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--property {kv:?} is not KEY=VALUE"))
        })
        .collect()
}

fn run_passthrough(a: PassthroughArgs) -> anyhow::Result<()> {
    let stop = super::signals::install()?;
    let mut properties = a.brokers.client_properties()?;
    properties.extend(parse_properties(&a.properties)?);
    let opts = PassthroughOptions {
        bootstrap_servers: a.brokers.bootstrap_servers,
        group_id: a.group_id,
        input: a.input,
        output: a.output,
        properties,
    };
    let n = passthrough(&opts, stop, Arc::new(AtomicU64::new(0)))?;
    eprintln!("copied {n} records");
    Ok(())
}

fn latency(a: LatencyArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the metricpipe binary")?;
    if a.rate <= 0.0 {
        bail!("--rate must be above zero");
    }
    let report = run_latency(
        &LatencyOptions {
            bootstrap_servers: a.brokers.bootstrap_servers,
            rate: a.rate,
            hosts: a.hosts,
            hot_share: a.hot_share,
            duration: a.duration,
            warmup: a.warmup,
            streams: (!a.no_spawn).then(|| Contender::streams(&exe, &a.streams_args, 1)),
            work_dir: work_dir(a.work_dir),
        },
        &note,
    )?;
    print!("{}", render_latency(&report));
    if let Some(out) = &a.out {
        std::fs::write(out, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

fn count(a: CountArgs) -> anyhow::Result<()> {
    let c = metricpipe_loadgen::count_ids(&a.brokers.bootstrap_servers, &a.topic, a.timeout)
        .with_context(|| format!("counting {}", a.topic))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        println!(
            "{}: {} records, {} distinct ids, {} duplicates, {} without an id",
            c.topic, c.records, c.distinct, c.duplicates, c.unkeyed
        );
    }
    Ok(())
}
