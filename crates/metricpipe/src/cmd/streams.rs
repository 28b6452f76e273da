//! `metricpipe streams`: the drop-in for the mission's Java Kafka Streams app.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use metricpipe_kafka::ClientSettings;
use metricpipe_streams::{ExceptionHandler, ProcessingGuarantee, RuntimeConfig};
use metricpipe_topology::{metric_topology, pass_through, MetricTopologyConfig};

use super::streams_config::{split_x, FileSettings};

const DEFAULT_APPLICATION_ID: &str = "metric-streams-application";

#[derive(Args)]
#[command(after_help = "\
Routes metric.all to metric.cpu and metric.memory (values byte-for-byte) and writes
{host..., \"timestamp\"} to metric.cpu.alert when system.cpu.total.norm.pct > 0.5, like the
reference Kafka Streams app. At-least-once: offsets are committed every --commit-interval
(default 100ms), only once every output derived from them is acknowledged, and again on
rebalance and on SIGINT/SIGTERM/SIGHUP, which stop it within --shutdown-timeout. With
--processing-guarantee exactly_once_v2 (Kafka Streams' EOS v2), outputs, dead letters and
input offsets commit in one transaction per interval: read the outputs with
isolation.level=read_committed (docs/RELIABILITY.md). Bad
records are counted, logged and, with --dlq-topic, dead-lettered with headers
metricpipe.dlq.reason/detail/node/routed and metricpipe.source.*.

--config takes our TOML file or the Java app's streams.properties (Kafka Streams' keys:
application.id, bootstrap.servers, processing.guarantee, commit.interval.ms,
num.stream.threads, default.deserialization.exception.handler,
errors.dead.letter.queue.topic.name, consumer./producer./admin. client keys; others are
named in a warning). It may be given more than once: a later file beats an earlier one,
-X Kafka Streams keys beat the files, and flags beat everything. Every TOML key is optional:
  bootstrap_servers = \"127.0.0.1:9092\"   application_id = \"metric-streams-application\"
  threshold = 0.5   commit_interval = \"100ms\"   dlq_topic = \"metric.dlq\"
  processing_guarantee = \"exactly_once_v2\"
  max_record_bytes = 1000000
  [topics]  input = \"metric.all\"  cpu = \"metric.cpu\"  memory = \"metric.memory\"  alert = \"metric.cpu.alert\"
  [kafka]   \"linger.ms\" = 5   \"enable.idempotence\" = true   # librdkafka properties, like -X

Examples:
  metricpipe streams --bootstrap-server 127.0.0.1:9092
  metricpipe streams --bootstrap-server 127.0.0.1:9092 --dlq-topic metric.dlq --threshold 0.8
  metricpipe streams --config streams.properties --num-stream-threads 2
  metricpipe streams --describe
  metricpipe agent -c metricbeat.yml --once -E output.console.enabled=true -E output.kafka.enabled=false | metricpipe streams --dry-run
  printf '%s\\n' '{\"metricset\":{\"name\":\"memory\"}}' | metricpipe streams --dry-run")]
#[command(mut_arg("bootstrap_servers", |a| a
    .env("METRICPIPE_BOOTSTRAP_SERVERS")
    .help("Kafka bootstrap servers, comma-separated HOST:PORT (default: bootstrap_servers in --config; --dry-run and --describe need none)")))]
pub struct StreamsArgs {
    #[command(flatten)]
    brokers: super::OptionalBrokers,
    /// The application id, also the consumer group [default: metric-streams-application]
    #[arg(long)]
    application_id: Option<String>,
    /// Config file: our TOML, or Kafka Streams' streams.properties (see below); repeatable,
    /// a later file beats an earlier one
    #[arg(long, value_name = "FILE")]
    config: Vec<PathBuf>,
    /// Alert when system.cpu.total.norm.pct is strictly above this [default: 0.5]
    #[arg(long)]
    threshold: Option<f64>,
    /// Dead-letter topic for rejected records (with reason headers)
    #[arg(long)]
    dlq_topic: Option<String>,
    /// How often offsets are committed, e.g. 100ms or 1s [default: 100ms]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    commit_interval: Option<Duration>,
    /// Processing loops in this process, each with its own consumer and producer in the
    /// group, like Kafka Streams' num.stream.threads [default: 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    num_stream_threads: Option<u16>,
    /// at_least_once, or exactly_once_v2: outputs, dead letters and input offsets in one
    /// transaction per commit interval; consumers of the outputs need
    /// isolation.level=read_committed [default: at_least_once]
    #[arg(long, value_name = "GUARANTEE", value_parser = parse_guarantee)]
    processing_guarantee: Option<ProcessingGuarantee>,
    /// Input topic [default: metric.all]
    #[arg(long)]
    input_topic: Option<String>,
    /// Output topic for cpu records [default: metric.cpu]
    #[arg(long)]
    cpu_topic: Option<String>,
    /// Output topic for memory records [default: metric.memory]
    #[arg(long)]
    memory_topic: Option<String>,
    /// Output topic for alerts [default: metric.cpu.alert]
    #[arg(long)]
    alert_topic: Option<String>,
    /// Larger records are rejected as too-large [default: 1000000]
    #[arg(long)]
    max_record_bytes: Option<usize>,
    /// Java client properties file, as Kafka's tools take (security.protocol,
    /// sasl.jaas.config, ssl.truststore.*, ...); under [kafka] and -X. See docs/SECURITY.md
    #[arg(long, value_name = "FILE", env = "METRICPIPE_COMMAND_CONFIG")]
    command_config: Option<PathBuf>,
    /// librdkafka property for both clients; prefix the key with consumer. or producer. for
    /// one side. A Kafka Streams key (commit.interval.ms, num.stream.threads, ...) is read
    /// as in --config
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_property)]
    properties: Vec<(String, String)>,
    /// Print the topology (as Kafka Streams' Topology.describe() does) and exit
    #[arg(long)]
    describe: bool,
    /// Read one JSON document per line on stdin, print `topic<TAB>value` per output; no broker
    #[arg(long)]
    dry_run: bool,
    /// Copy the input topic to this topic untouched instead (the throughput ceiling)
    #[arg(long, value_name = "TOPIC")]
    pass_through: Option<String>,
    /// Stop (drain, commit, leave the group) once no record came for this long, e.g. 5s:
    /// for catching up on a backlog and for benchmarks
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    exit_when_idle: Option<Duration>,
    /// After SIGTERM, SIGINT or SIGHUP, return within this long even when no broker
    /// answers (draining, the final commit and leaving the group share it), e.g. 30s
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    shutdown_timeout: Duration,
    /// Serve /metrics (Prometheus), /healthz and /readyz on HOST:PORT, e.g. 127.0.0.1:9465
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
}

fn parse_guarantee(s: &str) -> Result<ProcessingGuarantee, String> {
    ProcessingGuarantee::parse("--processing-guarantee", s).map_err(|e| e.detail())
}

fn parse_property(s: &str) -> Result<(String, String), String> {
    metricpipe_kafka::parse_property(s).map_err(|e| e.to_string())
}

pub fn run(args: StreamsArgs) -> anyhow::Result<()> {
    let mut file = FileSettings::load(&args.config)?;
    // -X's Kafka Streams keys beat the files; the named flags beat them (below).
    let flags_given = flags_given(&args);
    let (x_streams, x_client) = split_x(&args.properties, &flags_given)?;
    file.add_properties(x_streams);
    let topology_config = topology_config(&args, &file)?;

    if let Some(output) = &args.pass_through {
        let topology = pass_through(&topology_config.topics.input, output);
        if args.describe {
            print!("{}", topology.describe());
            return Ok(());
        }
        if args.dry_run {
            return dry_run(&topology);
        }
        return run_kafka(&topology, &args, &file, &x_client);
    }
    let topology = metric_topology(&topology_config);
    if args.describe {
        print!("{}", topology.describe());
        return Ok(());
    }
    if args.dry_run {
        return dry_run(&topology);
    }
    run_kafka(&topology, &args, &file, &x_client)
}

/// The topology's settings: the flags over the files, each topic name checked.
fn topology_config(
    args: &StreamsArgs,
    file: &FileSettings,
) -> anyhow::Result<MetricTopologyConfig> {
    let mut topics = file.topics.clone();
    for (slot, flag) in [
        (&mut topics.input, &args.input_topic),
        (&mut topics.cpu, &args.cpu_topic),
        (&mut topics.memory, &args.memory_topic),
        (&mut topics.alert, &args.alert_topic),
    ] {
        if let Some(t) = flag {
            *slot = t.clone();
        }
    }
    // A name Kafka refuses would otherwise make the runtime retry forever, routing nothing.
    let dlq_topic = args.dlq_topic.clone().or(file.dlq_topic.clone());
    let pass_through_topic = args.pass_through.clone();
    for (flag, name) in [
        ("--input-topic", Some(&topics.input)),
        ("--cpu-topic", Some(&topics.cpu)),
        ("--memory-topic", Some(&topics.memory)),
        ("--alert-topic", Some(&topics.alert)),
        ("--dlq-topic", dlq_topic.as_ref()),
        ("--pass-through", pass_through_topic.as_ref()),
    ] {
        if let Some(name) = name {
            metricpipe_admin::validate_topic_name(name)
                .with_context(|| format!("{flag} (or its key in --config)"))?;
        }
    }
    let threshold = args
        .threshold
        .or(file.threshold)
        .unwrap_or(metricpipe_topology::DEFAULT_THRESHOLD);
    if !threshold.is_finite() {
        bail!("--threshold must be a finite number, e.g. 0.5; got {threshold}");
    }
    let topology_config = MetricTopologyConfig {
        topics,
        threshold,
        max_record_bytes: args
            .max_record_bytes
            .or(file.max_record_bytes)
            .unwrap_or(metricpipe_topology::DEFAULT_MAX_RECORD_BYTES),
    };
    Ok(topology_config)
}

/// The named flags given, as (the Kafka Streams key each sets, the flag): the same key
/// with -X too is an error.
fn flags_given(args: &StreamsArgs) -> Vec<(&'static str, &'static str)> {
    [
        (
            "application.id",
            "--application-id",
            args.application_id.is_some(),
        ),
        (
            "commit.interval.ms",
            "--commit-interval",
            args.commit_interval.is_some(),
        ),
        (
            "processing.guarantee",
            "--processing-guarantee",
            args.processing_guarantee.is_some(),
        ),
        (
            "num.stream.threads",
            "--num-stream-threads",
            args.num_stream_threads.is_some(),
        ),
        (
            "errors.dead.letter.queue.topic.name",
            "--dlq-topic",
            args.dlq_topic.is_some(),
        ),
    ]
    .into_iter()
    .filter(|(_, _, given)| *given)
    .map(|(key, flag, _)| (key, flag))
    .collect()
}

fn run_kafka<X: Sync>(
    topology: &metricpipe_streams::Topology<X>,
    args: &StreamsArgs,
    file: &FileSettings,
    x_client: &[(String, String)],
) -> anyhow::Result<()> {
    let config = runtime_config(args, file, x_client)?;
    let _telemetry = match &args.metrics_addr {
        Some(addr) => {
            // Only the properties both clients share (security settings, say) fit the probe.
            let shared = config.client.shared_properties();
            let readiness = metricpipe_telemetry::probe_brokers(
                &config.client.bootstrap,
                metricpipe_telemetry::ProbeOptions {
                    client_properties: shared,
                    // A missing ACL on any of them makes /readyz 503 with the cause.
                    topics: topology
                        .source_topics()
                        .into_iter()
                        .map(str::to_string)
                        .chain(topology.sink_topics().iter().cloned())
                        .collect(),
                    ..Default::default()
                },
            )?;
            let server = metricpipe_telemetry::serve(addr, readiness)?;
            metricpipe_telemetry::init_streams_metrics();
            Some(server)
        }
        None => None,
    };
    let stop = super::signals::install()?;
    metricpipe_streams::run_stream_threads(topology, &config, stop)
        .context("the streams runtime stopped")?;
    Ok(())
}

/// The runtime's settings: flags, then -X Kafka Streams keys, then the files (see
/// streams_config), then our defaults.
fn runtime_config(
    args: &StreamsArgs,
    file: &FileSettings,
    x_client: &[(String, String)],
) -> anyhow::Result<RuntimeConfig> {
    let Some(bootstrap) = args
        .brokers
        .bootstrap_servers
        .clone()
        .or(file.bootstrap_servers.clone())
    else {
        bail!("no brokers: pass --bootstrap-server HOST:PORT (also spelled --bootstrap-servers or -b), or set bootstrap_servers (TOML) or bootstrap.servers (properties) in --config; --dry-run needs none");
    };
    let application_id = args
        .application_id
        .clone()
        .or(file.application_id.clone())
        .unwrap_or_else(|| DEFAULT_APPLICATION_ID.to_string());
    let mut config = RuntimeConfig::new(bootstrap, application_id);
    config.processing_guarantee = args
        .processing_guarantee
        .or(file.processing_guarantee)
        .unwrap_or_default();
    config.commit_interval = args
        .commit_interval
        .or(file.commit_interval)
        .unwrap_or(config.processing_guarantee.default_commit_interval());
    if config.commit_interval.is_zero() {
        bail!("--commit-interval must be above zero, e.g. 100ms");
    }
    config.dlq_topic = args.dlq_topic.clone().or(file.dlq_topic.clone());
    config.num_stream_threads = args
        .num_stream_threads
        .map(usize::from)
        .or(file.num_stream_threads)
        .unwrap_or(1);
    config.deserialization_exception_handler = file
        .deserialization_exception_handler
        .unwrap_or(ExceptionHandler::LogAndContinue);
    config.processing_exception_handler = file
        .processing_exception_handler
        .unwrap_or(ExceptionHandler::LogAndContinue);
    config.exit_when_idle = args.exit_when_idle;
    config.shutdown_timeout = args.shutdown_timeout;
    // A revoke's drain never outlasts a shutdown.
    config.drain_timeout = config.drain_timeout.min(args.shutdown_timeout);
    config.client = client_settings(config.client, args, file, x_client)?;
    if let Err(e) = config.check_properties() {
        bail!("[kafka] in --config: {e}");
    }
    Ok(config)
}

/// Client properties: --command-config's Java client file is the lowest layer, then each
/// --config file's client keys, then -X (metricpipe-kafka documents the precedence).
fn client_settings(
    base: ClientSettings,
    args: &StreamsArgs,
    file: &FileSettings,
    x_client: &[(String, String)],
) -> anyhow::Result<ClientSettings> {
    let command_config = args
        .command_config
        .as_ref()
        .or(file.command_config.as_ref());
    Ok(base
        .layer(super::command_config::load(
            command_config.map(|p| p.as_path()),
        )?)
        .layer(file.client.iter().cloned())
        .layer(x_client.iter().cloned()))
}

fn dry_run<X>(topology: &metricpipe_streams::Topology<X>) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let out = std::io::BufWriter::new(stdout.lock());
    metricpipe_streams::dry_run(topology, std::io::stdin().lock(), out, std::io::stderr())?;
    Ok(())
}
