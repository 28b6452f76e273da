//! `metricpipe tail`: a console consumer for people and pipes. The consumer is
//! [`metricpipe_top::tail`]; this file turns the flags into its options.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::bail;
use clap::Args;
use metricpipe_kafka::ClientSettings;
use metricpipe_top::tail::{TailError, TailOptions};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  metricpipe tail metric.cpu.alert                        # new alerts as they come\n  metricpipe tail metric.all --from-beginning --max 5 --pretty\n  metricpipe tail metric.cpu --from-beginning | jq -c '.host.name'\n  metricpipe tail metric.all --print-metadata --max 3\n  metricpipe tail metric.memory --group ops-tail          # resume where the group left off"
)]
pub struct TailArgs {
    /// Topic to read
    topic: String,
    #[command(flatten)]
    brokers: super::Brokers,
    /// Start at the earliest offset of every partition (default: only new records)
    #[arg(long)]
    from_beginning: bool,
    /// Exit after printing N records
    #[arg(long, value_name = "N")]
    max: Option<u64>,
    /// Pretty-print JSON values (values that are not JSON are printed as they are)
    #[arg(long)]
    pretty: bool,
    /// Prefix each record with its partition, offset and timestamp
    #[arg(long)]
    print_metadata: bool,
    /// Join this consumer group and commit offsets (default: no group, nothing committed)
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// Exit when no record arrived for this long, e.g. `10s` (default: wait forever)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    idle_timeout: Option<Duration>,
    /// Extra librdkafka property, e.g. `-X security.protocol=SSL` (repeatable)
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    property: Vec<String>,
}

pub fn run(args: TailArgs) -> anyhow::Result<()> {
    let bootstrap = args.brokers.bootstrap_servers.clone();
    let file = args.brokers.client_properties()?;
    let mut properties = Vec::new();
    for p in &args.property {
        let Some((k, v)) = p.split_once('=') else {
            bail!("-X {p}: expected KEY=VALUE, e.g. -X security.protocol=SSL");
        };
        properties.push((k.to_string(), v.to_string()));
    }
    let options = TailOptions {
        settings: ClientSettings::new(&bootstrap)
            .layer(file)
            .layer(properties),
        topic: args.topic,
        from_beginning: args.from_beginning,
        max: args.max,
        pretty: args.pretty,
        print_metadata: args.print_metadata,
        group: args.group,
        idle_timeout: args.idle_timeout,
    };
    let stdout = std::io::stdout();
    // A person watching wants each record at once; a pipe gets them in batches.
    let interactive = stdout.is_terminal();
    let out = std::io::BufWriter::new(stdout.lock());
    metricpipe_top::tail::run(&options, out, interactive).map_err(|e| match e {
        TailError::Unreachable { .. } => {
            anyhow::anyhow!("{e}; {}", super::unreachable_hint(&bootstrap))
        }
        e => e.into(),
    })
}
