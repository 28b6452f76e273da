//! `metricpipe demo`: the whole pipeline on this machine with one command.
//!
//! A tied local cluster in a temporary directory (its nodes die with this process), the
//! topics, then `metricpipe agent` and `metricpipe streams` as child processes of this
//! executable, and `top` in the foreground. Ctrl-C or `q` stops the children (SIGTERM, then
//! SIGKILL), the cluster and removes the directory, so a second run starts clean.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use metricpipe_admin::{AdminOptions, TopicSpec};
use metricpipe_local::{
    pipeline_users, ClusterOptions, LocalCluster, LogMode, PipelineSecurity, TiedChild,
};
use metricpipe_top::reader::now_ms;
use metricpipe_top::{Dashboard, Reader, ReaderOptions};

use super::progress::Step;
use super::signals;

#[derive(Args)]
#[command(
    after_help = "Ctrl-C (or q in the dashboard) stops everything the demo started.\n\nExamples:\n  metricpipe demo                 # cluster, topics, agent, streams and the dashboard\n  metricpipe demo --burn          # also load the CPU for a minute, so alerts show\n  metricpipe demo --no-top --duration 2m   # headless: one line of rates per second\n  metricpipe demo --security sasl_ssl     # TLS, SCRAM users and ACLs"
)]
pub struct DemoArgs {
    /// Load every core for a while (see --burn-for) so that CPU alerts appear
    #[arg(long)]
    burn: bool,
    /// How long --burn loads the CPU
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    burn_for: Duration,
    /// Print one line of rates per second instead of the dashboard
    #[arg(long)]
    no_top: bool,
    /// Stop by itself after this long (default: run until Ctrl-C)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Nodes in the demo cluster (the topics' replication factor is min(2, nodes))
    #[arg(long, default_value_t = 3)]
    brokers: usize,
    /// The agent's collection period
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    period: Duration,
    /// The cluster's client listener: plaintext, ssl (mutual TLS), sasl_plaintext or
    /// sasl_ssl (SCRAM-SHA-512); secured modes give the agent and streams their own users
    /// with ACLs on their own topics only (docs/SECURITY.md)
    #[arg(long, default_value = "plaintext", value_name = "MODE")]
    security: metricpipe_local::SecurityMode,
}

/// How long the agent and streams get to shut down cleanly before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The agent or streams, started from this executable; it gets SIGTERM if the demo dies,
/// even by SIGKILL, so no agent or streams process outlives it.
type Process = (&'static str, TiedChild);

fn spawn(name: &'static str, args: &[String], dir: &Path) -> anyhow::Result<Process> {
    let exe = std::env::current_exe().context("finding this executable")?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env("METRICPIPE_LOG", "info,rdkafka=warn")
        // The logs go to files: no colour codes in them.
        .env("NO_COLOR", "1");
    let log = dir.join(format!("{name}.log"));
    let child = TiedChild::spawn(cmd, &log, LogMode::Create, libc::SIGTERM)
        .with_context(|| format!("starting metricpipe {name}"))?
        .stop_on_drop(STOP_GRACE);
    Ok((name, child))
}

/// `Some(message)` when the process has exited on its own.
fn exited((name, child): &mut Process) -> Option<String> {
    let status = child.exited()?;
    Some(format!(
        "metricpipe {name} exited ({status}); its log ({}) ends with:\n{}",
        child.log().display(),
        child.tail(15)
    ))
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.brokers == 0 {
        bail!("--brokers must be at least 1");
    }
    if !args.no_top && !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        bail!("the dashboard needs a terminal; run `metricpipe demo --no-top` for one line of rates per second instead");
    }
    signals::install()?;
    let users = pipeline_users(args.security);
    let cluster = start_cluster(&args, users.clone())?;
    if signals::requested() {
        return Ok(());
    }
    let security = cluster.pipeline_security(&users)?;
    if let Some(notice) = cluster.client_files_notice() {
        eprintln!("{notice}");
    }
    create_topics(&cluster.bootstrap_servers(), args.brokers, &security)?;
    let (reader, mut children) = start_pipeline(&args, &cluster, &security)?;
    let burn_stop = Arc::new(AtomicBool::new(false));
    if args.burn {
        eprintln!(
            "burning every core for {} so that CPU alerts show",
            humantime::format_duration(args.burn_for)
        );
        burn(Instant::now() + args.burn_for, burn_stop.clone());
    }
    if let Some(d) = args.duration {
        stop_after(Instant::now() + d);
    }
    let result = if args.no_top {
        headless(reader, &mut children)
    } else {
        dashboard(reader, &mut children)
    };
    burn_stop.store(true, Ordering::SeqCst);
    // The logs go with the cluster's directory: show what a child that died had to say.
    if !args.no_top {
        for msg in children.iter_mut().filter_map(exited) {
            eprintln!("{msg}");
        }
    }
    let step = Step::start("stopping the agent, streams and the cluster");
    for (_, c) in children.iter_mut() {
        c.stop(STOP_GRACE);
    }
    drop(children);
    cluster.down().context("stopping the demo cluster")?;
    step.finish("demo stopped; nothing it started is left running");
    result
}

/// A tied cluster of `--brokers` nodes in a temporary directory, with `users`.
fn start_cluster(
    args: &DemoArgs,
    users: Vec<metricpipe_local::User>,
) -> anyhow::Result<LocalCluster> {
    super::progress::ensure_kafka_jars()?;
    let step = Step::start(format!("starting a {}-node Kafka cluster", args.brokers));
    let mut opts = ClusterOptions::secured(args.brokers, args.security, users);
    opts.ready_timeout = Duration::from_secs(180);
    let cluster = match LocalCluster::up(opts) {
        Ok(c) => c,
        Err(e) => {
            step.fail();
            return Err(e).context("starting the demo cluster");
        }
    };
    step.finish(format!(
        "Kafka cluster up on {}",
        cluster.bootstrap_servers()
    ));
    Ok(cluster)
}

/// The pipeline's topics, replicated on min(2, brokers) nodes.
fn create_topics(
    bootstrap: &str,
    brokers: usize,
    security: &PipelineSecurity,
) -> anyhow::Result<()> {
    let step = Step::start("creating the topics");
    let rf = brokers.min(2) as i32;
    let specs: Vec<TopicSpec> = TopicSpec::pipeline_defaults()
        .into_iter()
        .map(|mut t| {
            t.replication_factor = rf;
            t
        })
        .collect();
    let mut admin = AdminOptions::new(bootstrap);
    admin.client_properties = security.admin.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(metricpipe_admin::create_topics(&admin, &specs))
        .context("creating the pipeline topics")?;
    drop(rt);
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    step.finish(format!(
        "topics {} created (3 partitions, replication factor {rf})",
        names.join(", ")
    ));
    Ok(())
}

/// Writes the agent's metricbeat.yml, starts the agent and streams, and says where their
/// logs and metrics are; returns the dashboard's reader settings and the processes.
fn start_pipeline(
    args: &DemoArgs,
    cluster: &LocalCluster,
    security: &PipelineSecurity,
) -> anyhow::Result<(ReaderOptions, Vec<Process>)> {
    let bootstrap = cluster.bootstrap_servers();
    let dir = cluster.dir().to_path_buf();
    let config = dir.join("metricbeat.yml");
    let yml = metricbeat_yml(&bootstrap, args.period) + &security.agent_keys;
    std::fs::write(&config, yml).with_context(|| format!("writing {}", config.display()))?;
    let agent_metrics = format!("127.0.0.1:{}", free_port()?);
    let streams_metrics = format!("127.0.0.1:{}", free_port()?);
    let mut streams_args: Vec<String> = vec![
        "streams".into(),
        "--bootstrap-servers".into(),
        bootstrap.clone(),
        "--metrics-addr".into(),
        streams_metrics.clone(),
    ];
    if let Some(props) = &security.streams_config {
        streams_args.extend(["--command-config".into(), props.display().to_string()]);
    }
    let reader = ReaderOptions {
        client_properties: security.admin.clone(),
        ..ReaderOptions::new(&bootstrap)
    };
    let agent_args = [
        "agent".into(),
        "-c".into(),
        config.display().to_string(),
        "--metrics-addr".into(),
        agent_metrics.clone(),
    ];
    let children = vec![
        spawn("agent", &agent_args, &dir)?,
        spawn("streams", &streams_args, &dir)?,
    ];
    eprintln!(
        "agent (pid {}) and streams (pid {}) started; logs in {}",
        children[0].1.id(),
        children[1].1.id(),
        dir.display()
    );
    eprintln!("metrics: http://{agent_metrics}/metrics (agent), http://{streams_metrics}/metrics (streams)");
    Ok((reader, children))
}

/// Asks everything to stop at `deadline`: the dashboard and the headless loop both watch
/// the stop flag.
fn stop_after(deadline: Instant) {
    std::thread::spawn(move || {
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        signals::request();
    });
}

/// The dashboard over the running pipeline; a child that dies shows in its footer.
fn dashboard(reader: ReaderOptions, children: &mut [Process]) -> anyhow::Result<()> {
    // The children must be up for top to be of use; a crash shows in their logs.
    std::thread::sleep(Duration::from_millis(500));
    if let Some(msg) = children.iter_mut().find_map(exited) {
        return Err(anyhow::anyhow!(msg));
    }
    // The dashboard stays up so that what was read so far can still be looked at.
    let mut watch = || {
        children.iter_mut().find_map(|(name, c)| {
            c.exited().map(|_| {
                format!(
                    "metricpipe {name} exited; see {} (q quits)",
                    c.log().display()
                )
            })
        })
    };
    super::top::run_dashboard(reader, Duration::from_secs(1), &mut watch)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port")?
        .port())
}

fn metricbeat_yml(bootstrap: &str, period: Duration) -> String {
    let hosts: Vec<String> = bootstrap
        .split(',')
        .map(|h| format!("\"{}\"", h.trim()))
        .collect();
    format!(
        "# Written by `metricpipe demo`.\nmetricbeat.modules:\n- module: system\n  metricsets: [cpu, memory]\n  enabled: true\n  period: {}\noutput.kafka:\n  hosts: [{}]\n  topic: '{}'\n",
        humantime::format_duration(period),
        hosts.join(", "),
        metricpipe_kafka::topics::INPUT
    )
}

/// Spin every core until `until` or a stop, so the host's CPU goes over the alert threshold.
fn burn(until: Instant, stop: Arc<AtomicBool>) {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    for _ in 0..cores {
        let stop = stop.clone();
        let _ = std::thread::Builder::new()
            .name("burn".into())
            .spawn(move || {
                let mut x: u64 = 1;
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    for _ in 0..100_000 {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    }
                    std::hint::black_box(x);
                }
            });
    }
}

/// One line of rates per second until a stop: what a test or a log can follow.
fn headless(options: ReaderOptions, children: &mut [Process]) -> anyhow::Result<()> {
    let reader = Reader::start(options).context("reading the topics")?;
    let mut dash = Dashboard::new();
    let started = Instant::now();
    let mut out = std::io::stdout();
    while !signals::requested() {
        std::thread::sleep(Duration::from_secs(1));
        if let Some(msg) = children.iter_mut().find_map(exited) {
            bail!(msg);
        }
        for rec in reader.drain(usize::MAX) {
            dash.apply(rec.role, &rec.payload, rec.timestamp_ms);
        }
        let now = now_ms();
        dash.trim(now);
        let mut line = format!(
            "t={}s {}",
            started.elapsed().as_secs(),
            dash.rates_line(now)
        );
        if let Some(e) = reader.last_error() {
            line.push_str(&format!(" kafka_error={e:?}"));
        }
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            // Stdout closed (`| head`): keep nothing running for a reader that is gone.
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metricbeat_yml_lists_every_broker_and_the_period() {
        let y = metricbeat_yml("127.0.0.1:1, 127.0.0.1:2", Duration::from_secs(1));
        assert!(
            y.contains("hosts: [\"127.0.0.1:1\", \"127.0.0.1:2\"]"),
            "{y}"
        );
        assert!(y.contains("period: 1s"), "{y}");
        assert!(y.contains("topic: 'metric.all'"), "{y}");
    }
}
