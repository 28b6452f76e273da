//! `metricpipe tail`: a console consumer for people and pipes.
//!
//! Without `--group` it assigns every partition itself, so it leaves no consumer group (and
//! no committed offsets) behind, like `kafka-console-consumer` with `--partition` but for all
//! partitions at once; partitions added while it runs are found by reading the metadata
//! every 5 s and read from their first record. With `--group` it subscribes, and commits
//! only what it printed. docs/RELIABILITY.md compares it with kafka-console-consumer option
//! by option.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use metricpipe_admin::partitions::PartitionWatch;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

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
    let (consumer, mut watch) = connect(&args)?;
    // The printed records whose offsets are not yet stored for the commit, by partition:
    // stored once they are flushed to stdout, so a group commits only what was printed
    // (kafka-console-consumer seeks back to the first unprinted record before closing).
    let mut printed_at: Vec<(i32, i64)> = Vec::new();
    let commit = args.group.is_some();
    let mut last_store = Instant::now();
    let stdout = std::io::stdout();
    // A person watching wants each record at once; a pipe gets them in batches.
    let interactive = std::io::IsTerminal::is_terminal(&stdout);
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printed = 0u64;
    let mut last_record = Instant::now();
    if args.max == Some(0) {
        return Ok(());
    }
    loop {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(msg)) => {
                last_record = Instant::now();
                let value = format_value(msg.payload().unwrap_or_default(), args.pretty);
                let value = if args.print_metadata {
                    let mut line =
                        metadata_prefix(msg.partition(), msg.offset(), msg.timestamp().to_millis())
                            .into_bytes();
                    line.extend_from_slice(&value);
                    std::borrow::Cow::Owned(line)
                } else {
                    value
                };
                if !write_line(&mut out, &value, interactive)? {
                    return Ok(());
                }
                printed += 1;
                if commit {
                    note_printed(&mut printed_at, msg.partition(), msg.offset());
                    // A pipe is flushed when idle; under a steady stream, once a second.
                    if interactive
                        || (last_store.elapsed() >= Duration::from_secs(1) && out.flush().is_ok())
                    {
                        store_printed(&consumer, &args.topic, &mut printed_at);
                        last_store = Instant::now();
                    }
                }
                if args.max.is_some_and(|m| printed >= m) {
                    if out.flush().is_ok() {
                        store_printed(&consumer, &args.topic, &mut printed_at);
                    }
                    // Dropping the consumer closes it: it commits the stored offsets.
                    return Ok(());
                }
            }
            Some(Err(e)) => {
                // Transient broker errors are reported by librdkafka and retried; say so
                // once on stderr without stopping the stream.
                tracing::warn!(error = %e, "consumer error");
            }
            None => {
                // Idle: hand what we have to the reader so that `tail | grep` stays live.
                if let Err(e) = out.flush() {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(());
                    }
                    return Err(e).context("writing to stdout");
                }
                store_printed(&consumer, &args.topic, &mut printed_at);
                if commit {
                    store_positions(&consumer);
                }
                if args
                    .idle_timeout
                    .is_some_and(|t| last_record.elapsed() >= t)
                {
                    return Ok(());
                }
            }
        }
        if let Some(watch) = watch.as_mut() {
            watch.assign_new(&consumer);
        }
    }
}

/// Remembers the last printed offset of `partition`.
fn note_printed(printed_at: &mut Vec<(i32, i64)>, partition: i32, offset: i64) {
    match printed_at.iter_mut().find(|(p, _)| *p == partition) {
        Some(slot) => slot.1 = offset,
        None => printed_at.push((partition, offset)),
    }
}

/// Stores the offsets after the printed records, for the group's next commit.
fn store_printed(consumer: &BaseConsumer, topic: &str, printed_at: &mut Vec<(i32, i64)>) {
    for (partition, offset) in printed_at.drain(..) {
        // librdkafka stores offset + 1: the next record to read. A partition revoked since
        // refuses the store: its new owner reads it again, as it should.
        if let Err(e) = consumer.store_offset(topic, partition, offset) {
            tracing::debug!(error = %e, partition, "not storing the offset of a revoked partition");
        }
    }
}

/// Idle, with every record handed over printed and flushed: stores the positions, which
/// step over transaction markers, so a group at the end commits the end (issue 27).
fn store_positions(consumer: &BaseConsumer) {
    let Ok(positions) = consumer.position() else {
        return;
    };
    let mut known = TopicPartitionList::new();
    for e in positions.elements() {
        if let Offset::Offset(o) = e.offset() {
            let _ = known.add_partition_offset(e.topic(), e.partition(), Offset::Offset(o));
        }
    }
    // A partition revoked meanwhile refuses the store, as in store_printed.
    let _ = consumer.store_offsets(&known);
}

fn connect(args: &TailArgs) -> anyhow::Result<(BaseConsumer, Option<PartitionWatch>)> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &args.brokers.bootstrap_servers)
        .set("enable.partition.eof", "false")
        // As kafka-console-consumer: its client id, and every record, not only those of
        // committed transactions (librdkafka's default is read_committed).
        .set("client.id", "metricpipe-tail")
        .set("isolation.level", "read_uncommitted")
        // A subscribed consumer sees added partitions at a metadata refresh (librdkafka's
        // default: 5 min); the watch of an assigning one uses the same interval.
        .set("topic.metadata.refresh.interval.ms", "5000")
        .set("log_level", "3");
    for (k, v) in args.brokers.client_properties()? {
        cfg.set(k, v);
    }
    for p in &args.property {
        let Some((k, v)) = p.split_once('=') else {
            bail!("-X {p}: expected KEY=VALUE, e.g. -X security.protocol=SSL");
        };
        cfg.set(k, v);
    }
    match &args.group {
        Some(group) => {
            cfg.set("group.id", group)
                .set("enable.auto.commit", "true")
                // Offsets are stored by hand once a record is printed (see run).
                .set("enable.auto.offset.store", "false")
                .set(
                    "auto.offset.reset",
                    if args.from_beginning {
                        "earliest"
                    } else {
                        "latest"
                    },
                );
        }
        None => {
            // librdkafka's assign() needs a group.id, but a consumer that only assigns and
            // never commits makes no JoinGroup or OffsetCommit, so the brokers record no group.
            cfg.set("group.id", unused_group_id("tail"))
                .set("enable.auto.commit", "false")
                .set("enable.auto.offset.store", "false");
        }
    }
    let consumer: BaseConsumer = cfg.create().context("creating the Kafka consumer")?;
    let partitions = topic_partitions(&consumer, &args.topic, &args.brokers.bootstrap_servers)?;
    if args.group.is_some() {
        consumer
            .subscribe(&[&args.topic])
            .with_context(|| format!("subscribing to {}", args.topic))?;
        Ok((consumer, None))
    } else {
        let start = if args.from_beginning {
            Offset::Beginning
        } else {
            Offset::End
        };
        let mut tpl = TopicPartitionList::new();
        for p in &partitions {
            tpl.add_partition_offset(&args.topic, *p, start)
                .context("building the partition assignment")?;
        }
        consumer
            .assign(&tpl)
            .with_context(|| format!("assigning the partitions of {}", args.topic))?;
        let watch = PartitionWatch::new(
            &[&args.topic],
            partitions.into_iter().map(|p| (args.topic.clone(), p)),
        );
        Ok((consumer, Some(watch)))
    }
}

/// A group id that is never joined, only needed for librdkafka's assign().
pub fn unused_group_id(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("metricpipe-{what}-unjoined-{}-{nanos}", std::process::id())
}

/// The partition ids of `topic`, or an error that says what to do.
pub fn topic_partitions(
    consumer: &BaseConsumer,
    topic: &str,
    bootstrap: &str,
) -> anyhow::Result<Vec<i32>> {
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(15))
        .map_err(|e| {
            anyhow::anyhow!(
                "no answer from the brokers at {bootstrap} within 15s ({e}); {}",
                super::unreachable_hint(bootstrap)
            )
        })?;
    let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
        bail!("the cluster did not describe topic {topic}");
    };
    if t.error().is_some() || t.partitions().is_empty() {
        bail!("topic {topic} does not exist on {bootstrap}; create it with `metricpipe topics create -b {bootstrap}` or check the name");
    }
    Ok(t.partitions().iter().map(|p| p.id()).collect())
}

/// `partition=P offset=O timestamp=T<TAB>`, for `--print-metadata`.
pub fn metadata_prefix(partition: i32, offset: i64, timestamp_ms: Option<i64>) -> String {
    let ts = timestamp_ms
        .and_then(|ms| u64::try_from(ms).ok())
        .map(|ms| {
            humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_millis(ms))
                .to_string()
        })
        .unwrap_or_else(|| "-".into());
    format!("partition={partition} offset={offset} timestamp={ts}\t")
}

/// The bytes printed for one record value: as they are, or pretty JSON with `--pretty`.
pub fn format_value(payload: &[u8], pretty: bool) -> std::borrow::Cow<'_, [u8]> {
    if pretty {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) {
            if let Ok(s) = serde_json::to_string_pretty(&v) {
                return s.into_bytes().into();
            }
        }
    }
    payload.into()
}

/// Write one line; `Ok(false)` when the reader went away (`| head`), which ends tail quietly.
fn write_line(out: &mut impl Write, value: &[u8], flush: bool) -> anyhow::Result<bool> {
    let r = out
        .write_all(value)
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| if flush { out.flush() } else { Ok(()) });
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("writing to stdout"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_prints_json_and_leaves_other_text_alone() {
        let v = String::from_utf8(format_value(br#"{"a":1,"b":[true]}"#, true).into_owned())
            .expect("utf-8");
        assert!(v.contains("\n  \"a\": 1"), "{v}");
        assert_eq!(&*format_value(b"not json", true), b"not json");
        assert_eq!(&*format_value(br#"{"a":1}"#, false), br#"{"a":1}"#);
        assert_eq!(
            metadata_prefix(2, 41, Some(1_766_897_777_004)),
            "partition=2 offset=41 timestamp=2025-12-28T04:56:17.004Z\t"
        );
        assert_eq!(
            metadata_prefix(0, 0, None),
            "partition=0 offset=0 timestamp=-\t"
        );
        // Not UTF-8: passed through byte for byte.
        assert_eq!(&*format_value(b"\xff\xfe", false), b"\xff\xfe");
    }
}
