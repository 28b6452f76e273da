use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use metricpipe_admin::{AdminOptions, TopicOutcome, TopicSpec};
use metricpipe_kafka::topics;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  metricpipe topics create -b 127.0.0.1:9092\n  metricpipe topics describe -b 127.0.0.1:9092 metric.all"
)]
pub struct TopicsArgs {
    #[command(subcommand)]
    command: TopicsCommand,
}

#[derive(Args)]
struct ClusterArgs {
    #[command(flatten)]
    brokers: super::Brokers,
    /// How long to wait for the cluster to answer, e.g. 30s or 2m
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

#[derive(Subcommand)]
enum TopicsCommand {
    /// Create metric.all, metric.cpu, metric.memory and metric.cpu.alert (idempotent)
    #[command(
        after_help = "Examples:\n  metricpipe topics create -b 127.0.0.1:9092\n  metricpipe topics create -b 127.0.0.1:9092 --replication-factor 1 --all-topic metrics.raw"
    )]
    Create {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Partitions of each topic (an existing topic is left as it is)
        #[arg(long, default_value_t = topics::DEFAULT_PARTITIONS)]
        partitions: i32,
        /// Copies of each partition, on different brokers: at most the number of brokers
        #[arg(long, default_value_t = topics::DEFAULT_REPLICATION_FACTOR)]
        replication_factor: i32,
        /// Name of the agent's output topic
        #[arg(long, default_value = topics::INPUT)]
        all_topic: String,
        /// Name of the cpu topic
        #[arg(long, default_value = topics::CPU)]
        cpu_topic: String,
        /// Name of the memory topic
        #[arg(long, default_value = topics::MEMORY)]
        memory_topic: String,
        /// Name of the alert topic
        #[arg(long, default_value = topics::ALERT)]
        alert_topic: String,
        /// Also create this dead-letter topic
        #[arg(long)]
        dlq_topic: Option<String>,
    },
    /// Show partitions, leaders, replicas and in-sync replicas
    #[command(
        after_help = "Examples:\n  metricpipe topics describe -b 127.0.0.1:9092\n  metricpipe topics describe -b 127.0.0.1:9092 --json metric.cpu"
    )]
    Describe {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Print JSON
        #[arg(long)]
        json: bool,
        /// Topics to describe (default: the four pipeline topics)
        topics: Vec<String>,
    },
}

impl ClusterArgs {
    /// An admin error, with the `metricpipe local` advice when the brokers are local.
    fn hinted(&self, error: metricpipe_admin::AdminError) -> anyhow::Error {
        super::with_local_hint(error.into(), &self.brokers.bootstrap_servers)
    }

    fn options(&self) -> anyhow::Result<AdminOptions> {
        let mut o = AdminOptions::new(&self.brokers.bootstrap_servers);
        o.timeout = self.timeout;
        o.client_properties = self.brokers.client_properties()?;
        Ok(o)
    }
}

pub fn run(args: TopicsArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run_async(args))
}

async fn run_async(args: TopicsArgs) -> anyhow::Result<()> {
    match args.command {
        TopicsCommand::Create {
            cluster,
            partitions,
            replication_factor,
            all_topic,
            cpu_topic,
            memory_topic,
            alert_topic,
            dlq_topic,
        } => {
            let specs: Vec<TopicSpec> = [
                Some(all_topic),
                Some(cpu_topic),
                Some(memory_topic),
                Some(alert_topic),
                dlq_topic,
            ]
            .into_iter()
            .flatten()
            .map(|name| TopicSpec {
                name,
                partitions,
                replication_factor,
            })
            .collect();
            let outcomes = metricpipe_admin::create_topics(&cluster.options()?, &specs)
                .await
                .map_err(|e| cluster.hinted(e))?;
            report_created(&outcomes, partitions, replication_factor)
        }
        TopicsCommand::Describe {
            cluster,
            json,
            topics,
        } => {
            let topics = if topics.is_empty() {
                topics::ALL.iter().map(|s| s.to_string()).collect()
            } else {
                topics
            };
            let infos = metricpipe_admin::describe_topics(&cluster.options()?, &topics)
                .await
                .map_err(|e| cluster.hinted(e))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&infos)?);
                return Ok(());
            }
            print_descriptions(&infos);
            Ok(())
        }
    }
}

/// One line per topic: created, exists, or MISMATCH; an error when any mismatched.
fn report_created(
    outcomes: &[(String, TopicOutcome)],
    partitions: i32,
    replication_factor: i32,
) -> anyhow::Result<()> {
    let mut mismatches = Vec::new();
    for (name, outcome) in outcomes {
        match outcome {
            TopicOutcome::Created => println!("created  {name} (partitions {partitions}, replication factor {replication_factor})"),
            TopicOutcome::Exists => println!("exists   {name} (partitions {partitions}, replication factor {replication_factor})"),
            TopicOutcome::Mismatch { partitions: p, replication_factor: rf } => {
                println!("MISMATCH {name}: has partitions {p}, replication factor {rf}; asked for {partitions}, {replication_factor}");
                mismatches.push(name.clone());
            }
        }
    }
    if !mismatches.is_empty() {
        anyhow::bail!(
            "{} topic(s) exist with other settings: {}. metricpipe changes no existing topic; \
             alter them with Kafka's tools or pass the settings they have",
            mismatches.len(),
            mismatches.join(", ")
        );
    }
    Ok(())
}

/// Each topic with its partitions: leader, replicas, in-sync replicas.
fn print_descriptions(infos: &[metricpipe_admin::TopicInfo]) {
    for t in infos {
        match &t.error {
            Some(e) => println!("{}: {e}", t.name),
            None => {
                println!(
                    "{}\tpartitions: {}\treplication factor: {}",
                    t.name,
                    t.partitions.len(),
                    t.replication_factor
                );
                for p in &t.partitions {
                    println!(
                        "\tpartition {}\tleader {}\treplicas {:?}\tisr {:?}",
                        p.partition, p.leader, p.replicas, p.isr
                    );
                }
            }
        }
    }
}
