//! The console consumer behind `metricpipe tail`, for people and pipes.
//!
//! Without a group it assigns every partition itself, so it leaves no consumer group (and
//! no committed offsets) behind, like `kafka-console-consumer` with `--partition` but for all
//! partitions at once; partitions added while it runs are found by reading the metadata
//! every 5 s and read from their first record. With a group it subscribes, and commits
//! only what it printed. docs/RELIABILITY.md compares it with kafka-console-consumer option
//! by option.

use std::borrow::Cow;
use std::io::Write;
use std::time::{Duration, Instant};

use metricpipe_kafka::partitions::{known_positions, PartitionWatch};
use metricpipe_kafka::{ClientRole, ClientSettings};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};

/// How long the brokers have to describe the topic at start.
const METADATA_TIMEOUT: Duration = Duration::from_secs(15);

/// What to read and how to print it.
#[derive(Debug, Clone)]
pub struct TailOptions {
    pub topic: String,
    /// The brokers, and the operator's client properties (`--command-config`, then `-X`).
    pub settings: ClientSettings,
    /// Start at the earliest offset of every partition (else only new records).
    pub from_beginning: bool,
    /// Stop after this many records.
    pub max: Option<u64>,
    /// Pretty-print JSON values; other values are printed as they are.
    pub pretty: bool,
    /// Prefix each record with [`metadata_prefix`].
    pub print_metadata: bool,
    /// Join this consumer group and commit what was printed (else no group at all).
    pub group: Option<String>,
    /// Stop when no record arrived for this long.
    pub idle_timeout: Option<Duration>,
}

/// Why tail stopped with an error. Each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    /// The brokers did not answer the metadata request within 15 s.
    #[error("no answer from the brokers at {bootstrap} within 15s ({source})")]
    Unreachable {
        bootstrap: String,
        #[source]
        source: KafkaError,
    },
    #[error("the cluster did not describe topic {topic}")]
    Undescribed { topic: String },
    #[error("topic {topic} does not exist on {bootstrap}; create it with `metricpipe topics create -b {bootstrap}` or check the name")]
    NoSuchTopic { topic: String, bootstrap: String },
    /// Creating, subscribing or assigning the consumer.
    #[error("{what}")]
    Kafka {
        what: String,
        #[source]
        source: KafkaError,
    },
    #[error("writing to stdout")]
    Write(#[source] std::io::Error),
}

fn kafka(what: impl Into<String>) -> impl FnOnce(KafkaError) -> TailError {
    let what = what.into();
    move |source| TailError::Kafka { what, source }
}

/// Reads `options.topic` and writes one line per record value to `out` until `max`
/// records, the idle timeout, or a reader that went away (`| head`, which is not an error).
/// `interactive` (a terminal) flushes every line; a pipe gets them in batches, flushed
/// when idle.
///
/// # Errors
/// [`TailError`]: the brokers unreachable, the topic missing, a consumer that cannot be
/// made, or stdout failing other than by a broken pipe.
pub fn run(options: &TailOptions, out: impl Write, interactive: bool) -> Result<(), TailError> {
    let (consumer, mut watch) = connect(options)?;
    let mut printer = Printer::new(options, out, interactive);
    if options.max == Some(0) {
        return Ok(());
    }
    loop {
        let more = match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(msg)) => printer.record(&consumer, &msg)?,
            Some(Err(e)) => {
                // Transient broker errors are reported by librdkafka and retried; say so
                // once on stderr without stopping the stream.
                tracing::warn!(error = %e, "consumer error");
                true
            }
            None => printer.idle(&consumer)?,
        };
        if !more {
            // Dropping the consumer closes it: it commits the stored offsets.
            return Ok(());
        }
        if let Some(watch) = watch.as_mut() {
            watch.assign_new(&consumer);
        }
    }
}

/// The printing side of [`run`]: the output, and the printed offsets a group commits.
struct Printer<'a, W: Write> {
    options: &'a TailOptions,
    out: W,
    interactive: bool,
    /// The printed records whose offsets are not yet stored for the commit, by partition:
    /// stored once they are flushed to stdout, so a group commits only what was printed
    /// (kafka-console-consumer seeks back to the first unprinted record before closing).
    printed_at: Vec<(i32, i64)>,
    printed: u64,
    last_store: Instant,
    last_record: Instant,
}

impl<'a, W: Write> Printer<'a, W> {
    fn new(options: &'a TailOptions, out: W, interactive: bool) -> Self {
        Printer {
            options,
            out,
            interactive,
            printed_at: Vec::new(),
            printed: 0,
            last_store: Instant::now(),
            last_record: Instant::now(),
        }
    }

    /// Prints one record; `Ok(false)` when tail is done (`max` reached, or no reader).
    fn record(
        &mut self,
        consumer: &BaseConsumer,
        msg: &BorrowedMessage<'_>,
    ) -> Result<bool, TailError> {
        self.last_record = Instant::now();
        let value = format_value(msg.payload().unwrap_or_default(), self.options.pretty);
        let value = if self.options.print_metadata {
            let mut line =
                metadata_prefix(msg.partition(), msg.offset(), msg.timestamp().to_millis())
                    .into_bytes();
            line.extend_from_slice(&value);
            Cow::Owned(line)
        } else {
            value
        };
        if !write_line(&mut self.out, &value, self.interactive)? {
            return Ok(false);
        }
        self.printed += 1;
        if self.options.group.is_some() {
            note_printed(&mut self.printed_at, msg.partition(), msg.offset());
            // A pipe is flushed when idle; under a steady stream, once a second.
            if self.interactive
                || (self.last_store.elapsed() >= Duration::from_secs(1) && self.out.flush().is_ok())
            {
                self.store_printed(consumer);
                self.last_store = Instant::now();
            }
        }
        if self.options.max.is_some_and(|m| self.printed >= m) {
            if self.out.flush().is_ok() {
                self.store_printed(consumer);
            }
            return Ok(false);
        }
        Ok(true)
    }

    /// Nothing came: hand what we have to the reader so that `tail | grep` stays live.
    /// `Ok(false)` when tail is done (idle timeout, or no reader).
    fn idle(&mut self, consumer: &BaseConsumer) -> Result<bool, TailError> {
        if let Err(e) = self.out.flush() {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(false);
            }
            return Err(TailError::Write(e));
        }
        self.store_printed(consumer);
        if self.options.group.is_some() {
            store_positions(consumer);
        }
        let idle_for = self.last_record.elapsed();
        Ok(self.options.idle_timeout.is_none_or(|t| idle_for < t))
    }

    /// Stores the offsets after the printed records, for the group's next commit.
    fn store_printed(&mut self, consumer: &BaseConsumer) {
        for (partition, offset) in self.printed_at.drain(..) {
            // librdkafka stores offset + 1: the next record to read. A partition revoked
            // since refuses the store: its new owner reads it again, as it should.
            if let Err(e) = consumer.store_offset(&self.options.topic, partition, offset) {
                tracing::debug!(error = %e, partition, "not storing the offset of a revoked partition");
            }
        }
    }
}

/// Idle, with every record handed over printed and flushed: stores the consumer's
/// positions, which step over transaction markers, so a group at the end of a
/// transactional topic commits the end (issue 27; Kafka Streams' KAFKA-6607).
fn store_positions(consumer: &BaseConsumer) {
    // A partition revoked meanwhile refuses the store, as in store_printed.
    if let Err(e) = consumer.store_offsets(&known_positions(consumer)) {
        tracing::debug!(error = %e, "not storing the positions of revoked partitions");
    }
}

/// Remembers the last printed offset of `partition`.
fn note_printed(printed_at: &mut Vec<(i32, i64)>, partition: i32, offset: i64) {
    match printed_at.iter_mut().find(|(p, _)| *p == partition) {
        Some(slot) => slot.1 = offset,
        None => printed_at.push((partition, offset)),
    }
}

/// The consumer's properties: kafka-console-consumer's client id and isolation, then the
/// operator's, then what the group mode needs (which the operator cannot change).
fn consumer_config(options: &TailOptions) -> rdkafka::ClientConfig {
    // `client_config`, not `config`: which librdkafka log lines reach stderr stays with the
    // `log` crate's level, as it always was for tail.
    let mut cfg = options.settings.client_config(
        ClientRole::Consumer,
        [
            // As kafka-console-consumer: its client id, and every record, not only those of
            // committed transactions (librdkafka's default is read_committed).
            ("client.id", "metricpipe-tail"),
            ("enable.partition.eof", "false"),
            ("isolation.level", "read_uncommitted"),
            // A subscribed consumer sees added partitions at a metadata refresh
            // (librdkafka's default: 5 min); the watch of an assigning one uses the same
            // interval.
            ("topic.metadata.refresh.interval.ms", "5000"),
            ("log_level", "3"),
        ],
    );
    match &options.group {
        Some(group) => {
            let reset = if options.from_beginning {
                "earliest"
            } else {
                "latest"
            };
            cfg.set("group.id", group)
                .set("enable.auto.commit", "true")
                // Offsets are stored by hand once a record is printed (see Printer).
                .set("enable.auto.offset.store", "false")
                .set("auto.offset.reset", reset);
        }
        None => {
            // librdkafka's assign() needs a group.id, but a consumer that only assigns and
            // never commits makes no JoinGroup or OffsetCommit, so the brokers record no group.
            cfg.set("group.id", unused_group_id("tail"))
                .set("enable.auto.commit", "false")
                .set("enable.auto.offset.store", "false");
        }
    }
    cfg
}

/// A subscribed consumer with a group, or one that assigns every partition and watches
/// for new ones without.
fn connect(options: &TailOptions) -> Result<(BaseConsumer, Option<PartitionWatch>), TailError> {
    let topic = options.topic.as_str();
    let consumer: BaseConsumer = consumer_config(options)
        .create()
        .map_err(kafka("creating the Kafka consumer"))?;
    let partitions = topic_partitions(&consumer, topic, &options.settings.bootstrap)?;
    if options.group.is_some() {
        consumer
            .subscribe(&[topic])
            .map_err(kafka(format!("subscribing to {topic}")))?;
        return Ok((consumer, None));
    }
    let start = if options.from_beginning {
        Offset::Beginning
    } else {
        Offset::End
    };
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition_offset(topic, *p, start)
            .map_err(kafka("building the partition assignment"))?;
    }
    consumer
        .assign(&tpl)
        .map_err(kafka(format!("assigning the partitions of {topic}")))?;
    let watch = PartitionWatch::new(
        &[topic],
        partitions.into_iter().map(|p| (topic.to_string(), p)),
    );
    Ok((consumer, Some(watch)))
}

/// A group id that is never joined, only needed for librdkafka's assign().
pub fn unused_group_id(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("metricpipe-{what}-unjoined-{}-{nanos}", std::process::id())
}

/// The partition ids of `topic`.
///
/// # Errors
/// [`TailError::Unreachable`] after 15 s without an answer, [`TailError::NoSuchTopic`] or
/// [`TailError::Undescribed`] when the brokers do not know the topic.
pub fn topic_partitions(
    consumer: &BaseConsumer,
    topic: &str,
    bootstrap: &str,
) -> Result<Vec<i32>, TailError> {
    let md = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(|source| TailError::Unreachable {
            bootstrap: bootstrap.to_string(),
            source,
        })?;
    let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
        return Err(TailError::Undescribed {
            topic: topic.to_string(),
        });
    };
    if t.error().is_some() || t.partitions().is_empty() {
        return Err(TailError::NoSuchTopic {
            topic: topic.to_string(),
            bootstrap: bootstrap.to_string(),
        });
    }
    Ok(t.partitions().iter().map(|p| p.id()).collect())
}

/// `partition=P offset=O timestamp=T<TAB>`, for `--print-metadata`; T is RFC 3339 in UTC
/// with milliseconds, `-` for a record without a timestamp.
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

/// The bytes printed for one record value: as they are, or pretty JSON with `pretty`.
pub fn format_value(payload: &[u8], pretty: bool) -> Cow<'_, [u8]> {
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
fn write_line(out: &mut impl Write, value: &[u8], flush: bool) -> Result<bool, TailError> {
    let r = out
        .write_all(value)
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| if flush { out.flush() } else { Ok(()) });
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(TailError::Write(e)),
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

    fn options(group: Option<&str>, from_beginning: bool) -> TailOptions {
        TailOptions {
            topic: "metric.cpu".into(),
            settings: ClientSettings::new("127.0.0.1:9092")
                .layer([("security.protocol", "SSL"), ("client.id", "from-file")])
                .layer([("fetch.max.bytes", "1024")]),
            from_beginning,
            max: None,
            pretty: false,
            print_metadata: false,
            group: group.map(str::to_string),
            idle_timeout: None,
        }
    }

    #[test]
    fn the_consumer_gets_the_console_consumer_defaults_then_the_operator_then_the_mode() {
        let cfg = consumer_config(&options(Some("ops"), true));
        let get = |k: &str| cfg.get(k).map(str::to_string);
        assert_eq!(get("bootstrap.servers").as_deref(), Some("127.0.0.1:9092"));
        assert_eq!(get("client.id").as_deref(), Some("from-file"));
        assert_eq!(get("isolation.level").as_deref(), Some("read_uncommitted"));
        assert_eq!(get("enable.partition.eof").as_deref(), Some("false"));
        assert_eq!(
            get("topic.metadata.refresh.interval.ms").as_deref(),
            Some("5000")
        );
        assert_eq!(get("log_level").as_deref(), Some("3"));
        assert_eq!(get("security.protocol").as_deref(), Some("SSL"));
        assert_eq!(get("fetch.max.bytes").as_deref(), Some("1024"));
        assert_eq!(get("group.id").as_deref(), Some("ops"));
        assert_eq!(get("enable.auto.commit").as_deref(), Some("true"));
        assert_eq!(get("enable.auto.offset.store").as_deref(), Some("false"));
        assert_eq!(get("auto.offset.reset").as_deref(), Some("earliest"));
        assert_eq!(cfg.config_map().len(), 12, "{:?}", cfg.config_map());

        let cfg = consumer_config(&options(None, false));
        let group = cfg.get("group.id").unwrap_or_default();
        assert!(group.starts_with("metricpipe-tail-unjoined-"), "{group}");
        assert_eq!(cfg.get("enable.auto.commit"), Some("false"));
        assert_eq!(cfg.get("auto.offset.reset"), None);
    }

    #[test]
    fn a_pipe_gets_lines_and_a_closed_pipe_ends_tail_quietly() {
        let mut out = Vec::new();
        assert!(write_line(&mut out, b"{\"a\":1}", false).expect("write"));
        assert_eq!(out, b"{\"a\":1}\n");
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        assert!(!write_line(&mut Closed, b"x", true).expect("quiet"));
    }
}
