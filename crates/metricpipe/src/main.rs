//! `metricpipe`: the one binary. It parses flags and wires the library crates together;
//! only this crate knows about clap and the terminal.

mod cmd;
#[cfg(test)]
mod help_tests;
mod version;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "metricpipe",
    version,
    long_version = version::long(),
    about = "A server-metrics pipeline over Apache Kafka: a Metricbeat-compatible agent and a Kafka Streams-style router",
    long_about = None,
    after_help = "Examples:\n  metricpipe demo --burn                     # the whole pipeline on this machine, with alerts\n  metricpipe local up                        # a 3-node Kafka cluster on 127.0.0.1:9092-9094\n  metricpipe topics create -b 127.0.0.1:9092\n  metricpipe agent -c metricbeat.yml --metrics-addr 127.0.0.1:9464\n  metricpipe streams --bootstrap-server 127.0.0.1:9092 --metrics-addr 127.0.0.1:9465\n  metricpipe top -b 127.0.0.1:9092           # hosts, CPU sparklines, alerts, rates\n  metricpipe tail metric.cpu.alert -b 127.0.0.1:9092\n\nRun `metricpipe help COMMAND` for a command's options and examples.\nErrors go to stderr on one line with their causes; colour only on a terminal, never with NO_COLOR set."
)]
struct Cli {
    #[arg(long, global = true, env = "METRICPIPE_LOG", value_name = "FILTER", help = cmd::logging::LOG_HELP)]
    log: Option<String>,

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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout
    Completions(cmd::manual::CompletionsArgs),
    /// Print the man page (roff) on stdout, or write one per command into a directory
    Man(cmd::manual::ManArgs),
}

fn main() -> std::process::ExitCode {
    version::init();
    let cli = Cli::parse_from(cmd::agent::rewrite_args(std::env::args_os()));
    // The agent logs as its metricbeat.yml's `logging.*` says (with -e, -d, --environment);
    // a configuration that does not load logs to stderr and the command reports why.
    let (init, _log_guard) = match &cli.command {
        Command::Agent(args) => match args.logging() {
            Ok(cfg) => match cmd::logging::init_agent(&cfg, cli.log.as_deref()) {
                Ok(guard) => (Ok(()), guard),
                Err(e) => (Err(e), None),
            },
            Err(_) => (
                cmd::logging::init(args.log_filter(cli.log.as_deref()).as_deref()),
                None,
            ),
        },
        _ => (cmd::logging::init(cli.log.as_deref()), None),
    };
    let result = init.and_then(|()| run(cli.command));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cmd::logging::render_error(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Streams(args) => cmd::streams::run(args),
        Command::Agent(args) => cmd::agent::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Top(args) => cmd::top::run(args),
        Command::Tail(args) => cmd::tail::run(args),
        Command::Local(args) => cmd::local::run(args),
        Command::Topics(args) => cmd::topics::run(args),
        Command::Loadgen(args) => cmd::loadgen::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Completions(args) => cmd::manual::completions(args, Cli::command()),
        Command::Man(args) => cmd::manual::man(args, Cli::command()),
    }
}
