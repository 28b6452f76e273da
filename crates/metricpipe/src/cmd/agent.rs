use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use metricpipe_agent::{
    block_shutdown_signals, run_once, wait_for_shutdown_signal, AgentOptions, AgentStats,
    ConfigSources, RunningAgent,
};

const AGENT_EXAMPLES: &str = "Examples:
  metricpipe agent -c metricbeat.yml                  # a metricbeat.yml with output.kafka
  metricpipe agent --path.config /etc/metricbeat -e   # reads /etc/metricbeat/metricbeat.yml
  metricpipe agent -c metricbeat.yml --once -E output.console.enabled=true -E output.kafka.enabled=false
  metricpipe agent -c metricbeat.yml -system.hostfs=/hostfs   # in a container, host / mounted at /hostfs

A minimal metricbeat.yml:
  metricbeat.modules:
  - module: system
    metricsets: [cpu, memory]
    period: 10s
  output.kafka:
    hosts: [\"my-kafka:9092\"]
    topic: 'metric.all'";

/// Collect cpu and memory like Metricbeat's system module and ship them to Kafka.
#[derive(Args)]
#[command(after_help = AGENT_EXAMPLES)]
pub struct AgentArgs {
    /// Configuration file, relative to --path.config (repeatable; later files win)
    #[arg(short = 'c', value_name = "FILE")]
    config: Vec<PathBuf>,
    /// Directory of the configuration files (default: --path.home)
    #[arg(long = "path.config", value_name = "DIR")]
    path_config: Option<PathBuf>,
    /// Home directory (default: the current directory)
    #[arg(long = "path.home", value_name = "DIR")]
    path_home: Option<PathBuf>,
    /// Data directory, where meta.json keeps agent.id (default: ${path.home}/data)
    #[arg(long = "path.data", value_name = "DIR")]
    path_data: Option<PathBuf>,
    /// Override a setting, e.g. -E output.kafka.hosts='["kafka:9092"]' (repeatable)
    #[arg(short = 'E', value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Read /proc under this root for modules without `hostfs` (e.g. /hostfs in a container)
    #[arg(long = "system.hostfs", value_name = "DIR")]
    system_hostfs: Option<PathBuf>,
    /// Collect one event per metricset (cpu over --cpu-window), send it, and exit
    #[arg(long)]
    once: bool,
    /// Log to stderr (always the case; accepted for Metricbeat compatibility)
    #[arg(short = 'e')]
    log_to_stderr: bool,
    /// Accepted for Metricbeat compatibility; metricpipe does not check config file permissions
    #[arg(long = "strict.perms", value_name = "BOOL", hide = true)]
    strict_perms: Option<bool>,
    /// How long the first cpu measurement spans (and --once's)
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    cpu_window: Duration,
    /// On exit, how long to keep delivering queued events
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    flush_timeout: Duration,
    /// Serve /metrics (Prometheus), /healthz and /readyz on HOST:PORT, e.g. 127.0.0.1:9464
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
}

/// Go's flag package (and so Metricbeat) takes single-dash long flags: `-system.hostfs=/hostfs`,
/// `-path.config /etc/metricbeat`. Give them clap's double dash, for the agent subcommand only.
pub fn rewrite_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    const LONG: [&str; 6] = [
        "system.hostfs",
        "path.config",
        "path.home",
        "path.data",
        "strict.perms",
        "once",
    ];
    let mut in_agent = false;
    let mut out = Vec::new();
    for arg in args {
        let rewritten = match arg.to_str() {
            Some("agent") if !in_agent => {
                in_agent = true;
                None
            }
            Some(s) if in_agent && s.starts_with('-') && !s.starts_with("--") => {
                let name = s[1..].split('=').next().unwrap_or("");
                LONG.contains(&name)
                    .then(|| OsString::from(format!("-{s}")))
            }
            _ => None,
        };
        out.push(rewritten.unwrap_or(arg));
    }
    out
}

pub fn run(args: AgentArgs) -> anyhow::Result<()> {
    super::allocator::one_arena();
    let _ = (args.log_to_stderr, args.strict_perms);
    let sources = ConfigSources {
        files: args.config,
        path_config: args.path_config,
        path_home: args.path_home,
        path_data: args.path_data,
        overrides: args.overrides,
    };
    let config =
        metricpipe_agent::config::load(&sources).context("loading the agent configuration")?;
    let mut opts = AgentOptions::new(config);
    opts.cli_hostfs = args.system_hostfs;
    opts.cpu_window = args.cpu_window;

    if args.once {
        let stats = run_once(&opts, args.flush_timeout)?;
        if let Some(sink) = stats.sink {
            let undelivered = stats.events.saturating_sub(stats.topic_errors + sink.sent);
            if undelivered > 0 {
                anyhow::bail!(
                    "{undelivered} of {} events were not delivered within {:?} ({} dropped, {} rejected): are the brokers reachable and does the topic exist?",
                    stats.events,
                    args.flush_timeout,
                    sink.dropped,
                    sink.failed
                );
            }
        }
        return Ok(());
    }

    // Before any thread starts, so that every thread leaves SIGINT/SIGTERM to us.
    block_shutdown_signals();
    let _telemetry = match &args.metrics_addr {
        Some(addr) => Some(serve_telemetry(addr, &opts.config.output)?),
        None => None,
    };
    let agent = RunningAgent::start(&opts)?;
    let mut last = AgentStats::default();
    let signal = loop {
        if let Some(sig) = wait_for_shutdown_signal(Duration::from_secs(30)) {
            break sig;
        }
        let now = agent.stats();
        if now != last {
            log_stats("metrics in the last 30s", &now);
            last = now;
        }
    };
    tracing::info!(signal, flush_timeout = ?args.flush_timeout, "stopping");
    let stats = agent.stop(args.flush_timeout)?;
    log_stats("agent stopped", &stats);
    Ok(())
}

/// `/readyz` follows the Kafka output's brokers; with the console output it is always ready.
fn serve_telemetry(
    addr: &str,
    output: &metricpipe_agent::config::OutputConfig,
) -> anyhow::Result<metricpipe_telemetry::Server> {
    let readiness = match output {
        metricpipe_agent::config::OutputConfig::Kafka(k) => metricpipe_telemetry::probe_brokers(
            &k.sink.hosts.join(","),
            metricpipe_telemetry::ProbeOptions {
                client_properties: k.sink.properties.clone(),
                ..Default::default()
            },
        )?,
        _ => metricpipe_telemetry::Readiness::always(),
    };
    let server = metricpipe_telemetry::serve(addr, readiness)?;
    metricpipe_telemetry::init_agent_metrics();
    Ok(server)
}

fn log_stats(message: &str, s: &AgentStats) {
    let sink = s.sink.unwrap_or_default();
    tracing::info!(
        events = s.events,
        cpu_skipped = s.cpu_skipped,
        collect_errors = s.collect_errors,
        sent = sink.sent,
        dropped = sink.dropped,
        failed = sink.failed,
        retried = sink.retried,
        queued = sink.queued + sink.in_flight,
        "{message}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(args: &[&str]) -> Vec<String> {
        rewrite_args(args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn single_dash_long_flags_get_two_dashes_after_agent() {
        assert_eq!(
            rewrite(&[
                "mp",
                "agent",
                "-e",
                "-c",
                "m.yml",
                "-system.hostfs=/hostfs",
                "-path.config",
                "/etc/mb",
                "-E",
                "name=x"
            ]),
            [
                "mp",
                "agent",
                "-e",
                "-c",
                "m.yml",
                "--system.hostfs=/hostfs",
                "--path.config",
                "/etc/mb",
                "-E",
                "name=x"
            ]
        );
        assert_eq!(
            rewrite(&["mp", "topics", "-path.config"]),
            ["mp", "topics", "-path.config"]
        );
    }
}
