//! `metricpipe`: the one binary. It parses flags and wires the library crates together;
//! only this crate knows about clap and the terminal.

mod cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "metricpipe",
    version,
    about = "A server-metrics pipeline over Apache Kafka: a Metricbeat-compatible agent and a Kafka Streams-style router",
    long_about = None,
    after_help = "Examples:\n  metricpipe demo --burn                     # the whole pipeline on this machine, with alerts\n  metricpipe local up                        # a 3-node Kafka cluster on 127.0.0.1:9092-9094\n  metricpipe topics create -b 127.0.0.1:9092\n  metricpipe agent -c metricbeat.yml --metrics-addr 127.0.0.1:9464\n  metricpipe streams --bootstrap-servers 127.0.0.1:9092 --metrics-addr 127.0.0.1:9465\n  metricpipe top -b 127.0.0.1:9092           # hosts, CPU sparklines, alerts, rates\n  metricpipe tail metric.cpu.alert -b 127.0.0.1:9092\n\nRun `metricpipe help COMMAND` for a command's options and examples."
)]
struct Cli {
    /// Log filter, e.g. `info` or `metricpipe=debug,rdkafka=warn` (also RUST_LOG)
    #[arg(long, global = true, env = "METRICPIPE_LOG", default_value = "info")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole pipeline on this machine: cluster, topics, agent, streams and the dashboard
    Demo(cmd::demo::DemoArgs),
    /// Collect cpu and memory like Metricbeat's system module and ship them to Kafka
    Agent(cmd::agent::AgentArgs),
    /// Route metric.all to metric.cpu / metric.memory / metric.cpu.alert (the Kafka Streams app's drop-in)
    Streams(cmd::streams::StreamsArgs),
    /// A live terminal dashboard of hosts, CPU, alerts and rates, read from the topics
    Top(cmd::top::TopArgs),
    /// Print a topic's records, like kafka-console-consumer (no consumer group by default)
    Tail(cmd::tail::TailArgs),
    /// Run a real local Apache Kafka cluster (KRaft) for development, tests and demos
    Local(cmd::local::LocalArgs),
    /// Create and describe the pipeline's topics
    Topics(cmd::topics::TopicsArgs),
    /// Generate Metricbeat-shaped cpu and memory events into Kafka (backlog or paced)
    Loadgen(cmd::loadgen::LoadgenArgs),
    /// Benchmark: our streams app vs the Java Kafka Streams twin vs a pass-through ceiling
    Bench(cmd::bench::BenchArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse_from(cmd::agent::rewrite_args(std::env::args_os()));
    init_tracing(&cli.log);
    let result = match cli.command {
        Command::Streams(args) => cmd::streams::run(args),
        Command::Agent(args) => cmd::agent::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Top(args) => cmd::top::run(args),
        Command::Tail(args) => cmd::tail::run(args),
        Command::Local(args) => cmd::local::run(args),
        Command::Topics(args) => cmd::topics::run(args),
        Command::Loadgen(args) => cmd::loadgen::run(args),
        Command::Bench(args) => cmd::bench::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| filter.to_string());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(|| cmd::progress::LogWriter)
        .with_target(false)
        .init();
}
