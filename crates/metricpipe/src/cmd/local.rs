use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use metricpipe_local::{ClusterOptions, Lifetime, LocalCluster};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  metricpipe local up --brokers 3\n  metricpipe local kill 2 && sleep 10 && metricpipe local start 2\n  metricpipe local down"
)]
pub struct LocalArgs {
    #[command(subcommand)]
    command: LocalCommand,
}

#[derive(Args, Clone)]
struct DirArg {
    /// The cluster's directory: node configs, data and logs
    #[arg(long, default_value = ".local-kafka", env = "METRICPIPE_LOCAL_DIR")]
    dir: PathBuf,
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Start a cluster and print its bootstrap servers (fetches the Kafka jars on first use)
    #[command(
        after_help = "Examples:\n  metricpipe local up                       # 3 nodes on 127.0.0.1:9092-9094\n  metricpipe local up --brokers 1 --port 19092 --dir /tmp/kafka-one\n  metricpipe local up --port 0              # free ports, when 9092-9094 are taken\n\nThe cluster must prove it is the one that answers: its cluster id and node ids are checked\nagainst the metadata, so another Kafka on the same ports is an error naming the port.\nIf anything fails, every node this command started is stopped."
    )]
    Up {
        #[command(flatten)]
        dir: DirArg,
        /// Number of combined broker+controller nodes
        #[arg(long, default_value_t = 3)]
        brokers: usize,
        /// PLAINTEXT port of node 1; node i listens on PORT+i-1, its controller on
        /// PORT+100+i-1. 0 picks free ports (printed, and kept in the cluster's state file)
        #[arg(long, default_value_t = 9092)]
        port: u16,
        /// JVM heap per node (the JVM's -Xmx/-Xms syntax: 512m, 1g)
        #[arg(long, default_value = "512m")]
        heap: String,
        /// Give up (and stop every node started) if the cluster is not ready this soon
        #[arg(long, default_value = "120s", value_name = "DURATION", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// Client listener protocol: plaintext, ssl (mutual TLS), sasl_plaintext or sasl_ssl
        /// (SCRAM-SHA-256/512 and PLAIN). Secured modes make a throwaway CA, turn on ACLs and
        /// write a client properties file for the super user `admin`
        #[arg(long, default_value = "plaintext")]
        security: metricpipe_local::SecurityMode,
    },
    /// Stop every node and delete the cluster's data
    #[command(
        after_help = "Examples:\n  metricpipe local down\n  metricpipe local down --dir /tmp/kafka-one"
    )]
    Down {
        #[command(flatten)]
        dir: DirArg,
    },
    /// Show each node: id, port, pid, running or not
    #[command(
        after_help = "Examples:\n  metricpipe local status\n  metricpipe local status --json | jq '.[] | select(.running | not) | .id'"
    )]
    Status {
        #[command(flatten)]
        dir: DirArg,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// SIGKILL one node, as a crash would (for failover drills)
    #[command(
        after_help = "Examples:\n  metricpipe local kill 2                   # crash node 2; its partitions fail over"
    )]
    Kill {
        #[command(flatten)]
        dir: DirArg,
        /// Node id (1-based)
        id: u32,
    },
    /// Start a node again, with its data
    #[command(
        after_help = "Examples:\n  metricpipe local start 2                  # bring node 2 back after `local kill 2`"
    )]
    Start {
        #[command(flatten)]
        dir: DirArg,
        /// Node id (1-based)
        id: u32,
    },
}

pub fn run(args: LocalArgs) -> anyhow::Result<()> {
    match args.command {
        LocalCommand::Up {
            dir,
            brokers,
            port,
            heap,
            timeout,
            security,
        } => up(
            dir.dir,
            ClusterOptions {
                brokers,
                dir: None,
                port_base: (port != 0).then_some(port),
                heap,
                lifetime: Lifetime::Detached,
                ready_timeout: timeout,
                broker_overrides: Vec::new(),
                security,
                users: Vec::new(),
            },
        ),
        LocalCommand::Down { dir } => {
            let cluster = LocalCluster::open(&dir.dir)?;
            cluster.down().context("stopping the cluster")?;
            eprintln!("cluster in {} stopped and removed", dir.dir.display());
            Ok(())
        }
        LocalCommand::Status { dir, json } => status(&LocalCluster::open(&dir.dir)?, json),
        LocalCommand::Kill { dir, id } => {
            LocalCluster::open(&dir.dir)?.kill(id)?;
            eprintln!("node {id} killed (SIGKILL)");
            Ok(())
        }
        LocalCommand::Start { dir, id } => {
            LocalCluster::open(&dir.dir)?.start(id)?;
            eprintln!("node {id} started");
            Ok(())
        }
    }
}

/// `local up`: the cluster in `dir`, its bootstrap servers on stdout (the one line scripts
/// read), the rest on stderr.
fn up(dir: PathBuf, mut options: ClusterOptions) -> anyhow::Result<()> {
    let brokers = options.brokers;
    options.dir = Some(dir.clone());
    super::progress::ensure_kafka_jars()?;
    let step = super::progress::Step::start(format!("starting a {brokers}-node Kafka cluster"));
    let cluster = LocalCluster::up(options)
        .with_context(|| format!("starting a {brokers}-node cluster in {}", dir.display()));
    let cluster = match cluster {
        Ok(c) => c,
        Err(e) => {
            step.fail();
            return Err(e);
        }
    };
    step.finish(format!(
        "{brokers}-node Kafka cluster up in {} (logs in node-*/server.log)",
        cluster.dir().display()
    ));
    println!("{}", cluster.bootstrap_servers());
    if let Some(notice) = cluster.client_files_notice() {
        eprintln!("{notice}");
    }
    Ok(())
}

/// `local status`: one line per node, or JSON.
fn status(cluster: &LocalCluster, json: bool) -> anyhow::Result<()> {
    let status = cluster.status();
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    println!("bootstrap servers: {}", cluster.bootstrap_servers());
    println!("{:<5} {:<7} {:<8} STATE", "NODE", "PORT", "PID");
    for n in status {
        println!(
            "{:<5} {:<7} {:<8} {}",
            n.id,
            n.port,
            n.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            if n.running { "running" } else { "stopped" }
        );
    }
    Ok(())
}
