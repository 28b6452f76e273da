use std::cell::OnceCell;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use metricpipe_agent::config::{load, logging_config, LoggingConfig};
use metricpipe_agent::{
    run_once, AgentConfig, AgentOptions, AgentStats, ConfigError, ConfigSources, RunningAgent,
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
///
/// The flags are Metricbeat's, in its single- and double-dash spellings, so that the
/// package's systemd unit (`-environment systemd -c ... -path.home ...`) and the Docker
/// image's command (`-environment container`) work unchanged.
#[derive(Args)]
#[command(after_help = AGENT_EXAMPLES)]
pub struct AgentArgs {
    #[command(subcommand)]
    action: Option<AgentAction>,
    /// Configuration file, relative to --path.config (repeatable; later files win)
    #[arg(short = 'c', value_name = "FILE", global = true)]
    config: Vec<PathBuf>,
    /// Directory of the configuration files (default: --path.home)
    #[arg(long = "path.config", value_name = "DIR", global = true)]
    path_config: Option<PathBuf>,
    /// Home directory (default: the current directory)
    #[arg(long = "path.home", value_name = "DIR", global = true)]
    path_home: Option<PathBuf>,
    /// Data directory, where meta.json keeps agent.id (default: ${path.home}/data)
    #[arg(long = "path.data", value_name = "DIR", global = true)]
    path_data: Option<PathBuf>,
    /// Logs directory (default: ${path.home}/logs), for logging.to_files
    #[arg(long = "path.logs", value_name = "DIR", global = true)]
    path_logs: Option<PathBuf>,
    /// Override a setting in Metricbeat's flag syntax, e.g. -E tags=a,b -E 'output.kafka.hosts=["kafka:9092"]' (repeatable)
    #[arg(short = 'E', value_name = "KEY=VALUE", global = true)]
    overrides: Vec<String>,
    /// Read /proc under this root for modules without `hostfs` (e.g. /hostfs in a container)
    #[arg(long = "system.hostfs", value_name = "DIR", global = true)]
    system_hostfs: Option<PathBuf>,
    /// Where the agent runs, as Metricbeat's unit and image say (systemd, container, ...)
    #[arg(long, value_name = "ENV", global = true, value_parser = ["default", "systemd", "container", "macos_service", "windows_service"])]
    environment: Option<String>,
    /// Collect one event per metricset (cpu over --cpu-window), send it, and exit
    #[arg(long)]
    once: bool,
    /// Log to stderr, not to files (stderr wins over logging.to_files, as in Metricbeat)
    #[arg(short = 'e', global = true)]
    log_to_stderr: bool,
    /// Enable debug logging for these selectors, e.g. -d '*' (comma-separated)
    #[arg(short = 'd', value_name = "SELECTORS", global = true)]
    debug_selectors: Vec<String>,
    /// Refuse config files that group or others can write, as Metricbeat does (--strict.perms=false to allow)
    #[arg(long = "strict.perms", value_name = "BOOL", global = true, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    strict_perms: bool,
    /// How long the first cpu measurement spans (and --once's)
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    cpu_window: Duration,
    /// On exit, how long to keep delivering queued events
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    flush_timeout: Duration,
    /// Serve /metrics (Prometheus), /healthz and /readyz on HOST:PORT, e.g. 127.0.0.1:9464 (default: metricbeat.yml's http.host:http.port when http.enabled)
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// The configuration, read and decoded once: logging starts from it, then the command
    /// runs on it.
    #[arg(skip)]
    loaded: OnceCell<Box<Result<AgentConfig, ConfigError>>>,
}

/// Metricbeat's subcommands, for scripts and operators used to them.
#[derive(Subcommand)]
enum AgentAction {
    /// Check the configuration (`test config`) or the Kafka brokers (`test output`)
    Test {
        #[command(subcommand)]
        what: TestWhat,
    },
    /// Print the merged configuration (files, modules.d, -E, ${VAR}) as YAML, secrets masked
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Print the version
    Version,
}

#[derive(Subcommand)]
enum TestWhat {
    /// Load and check the configuration: "Config OK" and exit 0, or the error and exit 1
    Config,
    /// Connect to each broker of output.kafka and report per broker; writes no event
    Output,
}

#[derive(Subcommand)]
enum ExportWhat {
    /// The effective configuration as YAML
    Config,
}

impl AgentArgs {
    /// The log filter when the configuration does not load (its error is reported by the
    /// command): any `-d` selector enables the agent's debug logs, `*` every debug log.
    pub fn log_filter(&self, flag: Option<&str>) -> Option<String> {
        let selectors: Vec<&str> = self
            .debug_selectors
            .iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let extra = if selectors.contains(&"*") {
            "debug"
        } else if selectors.is_empty() {
            return flag.map(str::to_string);
        } else {
            "metricpipe_agent=debug,metricpipe_ship=debug,metricpipe_collect=debug"
        };
        Some(match flag {
            Some(f) => format!("{f},{extra}"),
            None => extra.to_string(),
        })
    }

    /// `logging.*` from the files and `-E`, with `-e`, `-d` and `--environment` applied,
    /// out of the configuration the command then runs on. When the rest does not load,
    /// `logging.*` alone is read, so that the logs still go where it says.
    pub fn logging(&self) -> Result<LoggingConfig, ConfigError> {
        match &**self.loaded.get_or_init(|| Box::new(load(&self.sources()))) {
            Ok(config) => Ok(config.logging.clone()),
            Err(_) => logging_config(&self.sources()),
        }
    }

    /// The configuration [`AgentArgs::logging`] loaded (or, without it, loaded now).
    fn take_config(&mut self) -> anyhow::Result<AgentConfig> {
        let sources = self.sources();
        match self.loaded.take() {
            Some(loaded) => *loaded,
            None => load(&sources),
        }
        .context("loading the agent configuration")
    }

    fn sources(&self) -> ConfigSources {
        ConfigSources {
            files: self.config.clone(),
            path_config: self.path_config.clone(),
            path_home: self.path_home.clone(),
            path_data: self.path_data.clone(),
            path_logs: self.path_logs.clone(),
            overrides: self.overrides.clone(),
            strict_perms: self.strict_perms,
            environment: self.environment.clone(),
            log_to_stderr: self.log_to_stderr,
            debug_selectors: self.debug_selectors.clone(),
        }
    }
}

/// Go's flag package (and so Metricbeat, whose root.go rewrites `-flag` to `--flag`) takes
/// single-dash long flags: `-environment systemd`, `-path.config /etc/metricbeat`,
/// `-system.hostfs=/hostfs`. Give them clap's double dash, after `agent` only.
pub fn rewrite_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    const LONG: [&str; 11] = [
        "system.hostfs",
        "path.config",
        "path.home",
        "path.data",
        "path.logs",
        "strict.perms",
        "environment",
        "once",
        "cpu-window",
        "flush-timeout",
        "metrics-addr",
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

pub fn run(mut args: AgentArgs) -> anyhow::Result<()> {
    super::allocator::one_arena();
    if let Some(env) = &args.environment {
        tracing::debug!(environment = %env, "running environment");
    }
    match &args.action {
        None => {}
        Some(AgentAction::Version) => {
            println!(
                "metricpipe agent version {} (drop-in for metricbeat's system module)",
                env!("CARGO_PKG_VERSION")
            );
            return Ok(());
        }
        Some(AgentAction::Test {
            what: TestWhat::Config,
        }) => {
            for w in &args.take_config()?.warnings {
                tracing::warn!("{w}");
            }
            println!("Config OK");
            return Ok(());
        }
        Some(AgentAction::Test {
            what: TestWhat::Output,
        }) => {
            let config = args.take_config()?;
            let mut stdout = std::io::stdout().lock();
            return Ok(metricpipe_agent::probe::test_output(
                &config.output,
                &mut stdout,
            )?);
        }
        Some(AgentAction::Export {
            what: ExportWhat::Config,
        }) => {
            let yaml = metricpipe_agent::export::effective_yaml(&args.sources())
                .context("loading the agent configuration")?;
            print!("{yaml}");
            return Ok(());
        }
    }
    let mut opts = AgentOptions::new(args.take_config()?);
    opts.reload_sources = Some(args.sources());
    opts.cli_hostfs = args.system_hostfs.clone();
    opts.cpu_window = args.cpu_window;
    if args.once {
        return once(&opts, args.flush_timeout);
    }
    run_until_signal(&args, &opts)
}

/// `--once`: collect, send, and fail when an event was not delivered in time.
fn once(opts: &AgentOptions, flush_timeout: Duration) -> anyhow::Result<()> {
    let stats = run_once(opts, flush_timeout)?;
    let Some(sink) = stats.sink else {
        return Ok(());
    };
    let undelivered = stats
        .events
        .saturating_sub(stats.topic_errors + stats.processor_dropped + sink.sent);
    if undelivered > 0 {
        anyhow::bail!(
            "{undelivered} of {} events were not delivered within {:?} ({} dropped, {} rejected): are the brokers reachable and does the topic exist?",
            stats.events,
            flush_timeout,
            sink.dropped,
            sink.failed
        );
    }
    Ok(())
}

/// Run until SIGINT, SIGTERM or SIGHUP (libbeat stops on all three too), logging
/// Metricbeat's periodic "Non-zero metrics" line as `logging.metrics.enabled/period` say.
fn run_until_signal(args: &AgentArgs, opts: &AgentOptions) -> anyhow::Result<()> {
    super::signals::install()?;
    // --metrics-addr wins over metricbeat.yml's http.enabled/host/port.
    let telemetry_addr = args
        .metrics_addr
        .as_ref()
        .or(opts.config.http_addr.as_ref());
    let agent = RunningAgent::start(opts)?;
    let _telemetry = match telemetry_addr {
        Some(addr) => Some(serve_telemetry(
            addr,
            &opts.config.output,
            beat_routes(agent.stats_handle()),
        )?),
        None => None,
    };
    let logging = &opts.config.logging;
    let (stats_enabled, period) = (logging.metrics_enabled, logging.metrics_period);
    let every = format!("metrics in the last {}", humantime::format_duration(period));
    let mut last = AgentStats::default();
    let signal = loop {
        if super::signals::wait(period) {
            break super::signals::received();
        }
        let now = agent.stats();
        if stats_enabled && now != last {
            log_stats(&every, &now);
            last = now;
        }
    };
    tracing::info!(signal, flush_timeout = ?args.flush_timeout, "stopping");
    let stats = agent.stop(args.flush_timeout)?;
    log_stats("agent stopped", &stats);
    Ok(())
}

/// Metricbeat's monitoring documents: `/` (beat info) and `/stats` (libbeat counters).
fn beat_routes(
    handle: metricpipe_agent::stats::StatsHandle,
) -> Vec<(&'static str, metricpipe_telemetry::JsonRoute)> {
    let render = |v: serde_json::Value, pretty: bool| {
        if pretty {
            serde_json::to_string_pretty(&v).unwrap_or_default()
        } else {
            v.to_string()
        }
    };
    // The binary's modification time stands for Metricbeat's build time.
    let built = std::env::current_exe()
        .and_then(std::fs::metadata)
        .and_then(|m| m.modified())
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_default();
    let commit = metricpipe_telemetry::build_info().commit.clone();
    let info = handle.clone();
    vec![
        (
            "/",
            std::sync::Arc::new(move |pretty| render(info.info(&commit, &built), pretty)),
        ),
        (
            "/stats",
            std::sync::Arc::new(move |pretty| render(handle.stats(), pretty)),
        ),
    ]
}

/// `/readyz` follows the Kafka output's brokers; with the console output it is always ready.
fn serve_telemetry(
    addr: &str,
    output: &metricpipe_agent::config::OutputConfig,
    routes: Vec<(&'static str, metricpipe_telemetry::JsonRoute)>,
) -> anyhow::Result<metricpipe_telemetry::Server> {
    let readiness = match output {
        metricpipe_agent::config::OutputConfig::Kafka(k) => metricpipe_telemetry::probe_brokers(
            &k.sink.hosts.join(","),
            metricpipe_telemetry::ProbeOptions {
                client_properties: k.sink.properties.clone(),
                // A fixed topic (no field references) is checked by name, so a missing ACL
                // makes /readyz 503 naming it.
                topics: k.topic.render(&Default::default()).into_iter().collect(),
                ..Default::default()
            },
        )?,
        _ => metricpipe_telemetry::Readiness::always(),
    };
    let server = metricpipe_telemetry::serve_with(addr, readiness, routes)?;
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
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(subcommand)]
        cmd: Cmd,
    }
    #[derive(clap::Subcommand)]
    enum Cmd {
        Agent(AgentArgs),
    }

    fn parse(args: &[&str]) -> Result<AgentArgs, clap::Error> {
        let argv = rewrite_args(args.iter().map(OsString::from));
        Wrap::try_parse_from(argv).map(|w| match w.cmd {
            Cmd::Agent(a) => a,
        })
    }

    /// elastic/beats dev-tools/packaging/templates/linux/systemd.unit.tmpl, expanded.
    const UNIT_EXEC_START: [&str; 14] = [
        "mp",
        "agent",
        "-environment",
        "systemd",
        "-c",
        "/etc/mb/mb.yml",
        "-path.home",
        "/usr/share/mb",
        "-path.config",
        "/etc/mb",
        "-path.data",
        "/var/lib/mb",
        "-path.logs",
        "/var/log/mb",
    ];

    #[test]
    fn packaged_command_lines_parse() {
        let a = parse(&UNIT_EXEC_START).unwrap();
        assert_eq!(a.environment.as_deref(), Some("systemd"));
        assert!(a.strict_perms);
        let s = a.sources();
        assert_eq!(s.paths().logs, PathBuf::from("/var/log/mb"));
        assert_eq!(s.resolved_files(), [PathBuf::from("/etc/mb/mb.yml")]);
        let a = parse(&["mp", "agent", "-environment", "container"]).unwrap();
        assert_eq!(a.environment.as_deref(), Some("container"));
        let a = parse(&["mp", "agent", "--strict.perms=false", "-d", "*", "-e"]).unwrap();
        assert!(!a.strict_perms);
        assert_eq!(a.log_filter(Some("info")).as_deref(), Some("info,debug"));
        let a = parse(&["mp", "agent", "-strict.perms"]).unwrap();
        assert!(a.strict_perms);
        let a = parse(&[
            "mp", "agent", "test", "config", "-c", "x.yml", "-E", "tags=a,b",
        ])
        .unwrap();
        assert!(matches!(
            a.action,
            Some(AgentAction::Test {
                what: TestWhat::Config
            })
        ));
        assert_eq!(a.config, [PathBuf::from("x.yml")]);
        assert!(parse(&["mp", "agent", "--environment", "moon"]).is_err());
    }

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
        // The packaged systemd unit's ExecStart: every single-dash long flag gets two.
        let rewritten = rewrite(&UNIT_EXEC_START);
        for (before, after) in UNIT_EXEC_START.iter().zip(&rewritten) {
            let long = before.len() > 2 && before.starts_with('-');
            assert_eq!(
                *after,
                if long {
                    format!("-{before}")
                } else {
                    before.to_string()
                }
            );
        }
        assert_eq!(
            rewrite(&["mp", "agent", "-strict.perms=false"])[2],
            "--strict.perms=false"
        );
        assert_eq!(
            rewrite(&["mp", "topics", "-path.config"]),
            ["mp", "topics", "-path.config"]
        );
    }
}
