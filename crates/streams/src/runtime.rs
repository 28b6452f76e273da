//! The rdkafka runtime: one tight poll loop per instance, at-least-once.
//!
//! - Consumer group = application id; a new group starts from the earliest offsets;
//!   `enable.auto.commit` and `enable.auto.offset.store` are off: this module decides
//!   which offsets may be committed.
//! - Producer: `acks=all` with idempotence, no keys, batch-friendly buffering.
//! - **Invariant:** an offset is committed only after every output derived from it (routed
//!   records, alerts, dead letters) is acknowledged by the brokers. Each source offset is
//!   registered with its number of outputs before they are sent; delivery reports count
//!   them down; the commit point of a partition is the lowest offset with outputs still
//!   in flight. So commits never wait for the producer, and the interval can be short.
//! - Commits: every `commit_interval` (async), and synchronously after draining the
//!   producer on revoke and on shutdown. So a graceful leave duplicates nothing, and a crash
//!   duplicates about `input rate × commit_interval` records. An interval commit waits for
//!   the acknowledgements of what was processed before its tick, without stalling the loop
//!   (a flush would), so it covers the records still lingering in the producer too.
//! - A delivery that fails after librdkafka's own retries is sent again (retriable) or,
//!   when the brokers will never take it (too large, invalid), dead-lettered; nothing stalls.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use metricpipe_kafka::{classify, is_unreachable, ClientRole, ClientSettings, ErrorClass};
use metrics::{counter, histogram, Counter};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientContext;
use tracing::{debug, error, info, warn};

use crate::dsl::{Output, Reason, SinkId, Topology};

/// Kafka Streams' at-least-once default is 30 s; a crash then replays up to 30 s of input.
/// Commits here never wait for the producer, so 100 ms costs almost nothing and keeps the
/// replay after a crash at about a tenth of a second of input.
pub const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_millis(100);

/// Header names on dead-letter records.
pub mod dlq_headers {
    pub const REASON: &str = "metricpipe.dlq.reason";
    pub const DETAIL: &str = "metricpipe.dlq.detail";
    pub const NODE: &str = "metricpipe.dlq.node";
    pub const ROUTED: &str = "metricpipe.dlq.routed";
    pub const SOURCE_TOPIC: &str = "metricpipe.source.topic";
    pub const SOURCE_PARTITION: &str = "metricpipe.source.partition";
    pub const SOURCE_OFFSET: &str = "metricpipe.source.offset";
    pub const TRUNCATED_FROM: &str = "metricpipe.dlq.truncated-from";
}

/// Errors that stop the runtime before or while it starts. Processing itself never fails.
#[derive(Debug, thiserror::Error)]
pub enum StreamsError {
    #[error("creating the Kafka {what} failed: {source}. Check --bootstrap-servers and the -X properties")]
    Client {
        what: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("subscribing to {topics:?} failed: {source}")]
    Subscribe {
        topics: Vec<String>,
        #[source]
        source: KafkaError,
    },
    #[error("installing the signal handlers failed: {0}")]
    Signals(#[source] std::io::Error),
    #[error("the Kafka producer failed for good ({0}); what was not committed will be processed again after a restart")]
    FatalProducer(String),
}

/// How the runtime talks to Kafka.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The brokers and the operator's librdkafka properties for both clients
    /// (`consumer.`/`producer.` prefixed keys go to one side only); they override our
    /// defaults.
    pub client: ClientSettings,
    /// Also the consumer group id.
    pub application_id: String,
    pub commit_interval: Duration,
    /// Where rejected records go, with reason headers. `None`: counted and logged only.
    pub dlq_topic: Option<String>,
    /// Dead letters larger than this are cut to this size (header `truncated-from`), so a
    /// record too large for the output topics still leaves a trace. The default, 900,000,
    /// fits under librdkafka's and the brokers' default limits (about 1 MB) with the headers.
    pub dlq_max_value_bytes: usize,
    /// How long a shutdown or revoke waits for in-flight outputs.
    pub drain_timeout: Duration,
    /// Stop (drain, commit, leave) once no record came for this long after the first one:
    /// for catching up on a backlog and for benchmarks. `None`: run until stopped.
    pub exit_when_idle: Option<Duration>,
}

impl RuntimeConfig {
    pub fn new(bootstrap_servers: impl Into<String>, application_id: impl Into<String>) -> Self {
        RuntimeConfig {
            client: ClientSettings::new(bootstrap_servers),
            application_id: application_id.into(),
            commit_interval: DEFAULT_COMMIT_INTERVAL,
            dlq_topic: None,
            dlq_max_value_bytes: 900_000,
            drain_timeout: Duration::from_secs(30),
            exit_when_idle: None,
        }
    }

    fn consumer_config(&self) -> ClientConfig {
        self.client.config(
            ClientRole::Consumer,
            &format!("{}-consumer", self.application_id),
            &[
                ("group.id", &self.application_id),
                // TCP_NODELAY, as Kafka's Java clients set it. With Nagle on, a small
                // request written while the last one is unacknowledged waits for the
                // broker's delayed ACK (up to 40 ms), which an acks=all response holds
                // back: the wait of an interval commit for its acknowledgements had a p99
                // of 105-110 ms at 2,000 records/s, and 29-47 ms without Nagle.
                ("socket.nagle.disable", "true"),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", "earliest"),
                // Bound the prefetch queue and fetch responses (defaults: 64 MiB and
                // 50 MiB): they are most of the memory a streams instance needs.
                ("queued.max.messages.kbytes", "4096"),
                ("fetch.max.bytes", "4194304"),
                // With a small queue the default (1 s) stalls a partition each time the
                // queue fills: on a backlog that capped throughput near 10-15k records/s.
                ("fetch.queue.backoff.ms", "10"),
                ("statistics.interval.ms", "5000"),
                // Partitions added to an input topic are seen at a metadata refresh, which
                // makes the group rebalance to assign them: librdkafka refreshes every 5 min
                // by default, docs/RELIABILITY.md promises 10 s (#21).
                ("topic.metadata.refresh.interval.ms", "10000"),
            ],
        )
    }

    fn producer_config(&self) -> ClientConfig {
        self.client.config(
            ClientRole::Producer,
            &format!("{}-producer", self.application_id),
            &[
                ("socket.nagle.disable", "true"),
                ("acks", "all"),
                ("enable.idempotence", "true"),
                // Fewer, larger produce requests: the brokers pay per request. Adds at
                // most 20 ms to an alert's latency.
                ("linger.ms", "20"),
                ("batch.num.messages", "10000"),
                // lz4 costs us little CPU and saves the brokers more (fewer bytes to append,
                // replicate and serve): on a 1M backlog 117k against 88-96k records/s
                // uncompressed, broker CPU 11.0 against 13-16 s (docs/PERFORMANCE.md).
                // zstd was as fast but took the RSS to 56 MiB.
                ("compression.type", "lz4"),
                // Bounded producer memory: 4 MiB queued. Batches keep librdkafka's 1 MB
                // (`batch.size`): 256 KiB halved the throughput on a backlog and doubled
                // the CPU per record, and the queue bound caps the memory anyway.
                ("queue.buffering.max.kbytes", "4096"),
            ],
        )
    }
}

/// A short wait for acknowledgements. Not `poll(1 ms)`: rust-rdkafka's `poll(t)` rounds the
/// time left down to whole milliseconds and spins through the last one, so a 1 ms poll is a
/// 1 ms busy loop: on a backlog, with the producer queue full, it competed with the brokers
/// for the cores (51k records/s with it, 83k without, one bench run each).
fn pause() {
    std::thread::sleep(Duration::from_millis(1));
}

/// Sets the returned flag on SIGINT or SIGTERM; a second signal exits at once.
pub fn shutdown_on_signals() -> Result<Arc<AtomicBool>, StreamsError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&flag))
            .map_err(StreamsError::Signals)?;
        signal_hook::flag::register(sig, Arc::clone(&flag)).map_err(StreamsError::Signals)?;
    }
    Ok(flag)
}

/// What a run did, for logs, tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub records_in: u64,
    pub records_out: u64,
    pub rejected: u64,
    pub dead_letters: u64,
    /// From the first record received to the last one processed.
    pub busy: Duration,
}

/// Logs at most once per period; counts what it swallowed.
struct RateLimit {
    period: Duration,
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl RateLimit {
    fn new(period: Duration) -> Self {
        RateLimit {
            period,
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(suppressed since the last line)` when a line may be logged now.
    fn check(&self) -> Option<u64> {
        let mut last = lock(&self.last);
        let now = Instant::now();
        match *last {
            Some(t) if now.duration_since(t) < self.period => {
                self.suppressed.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => {
                *last = Some(now);
                Some(self.suppressed.swap(0, Ordering::Relaxed))
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not stop processing: the data is still consistent
    // because every critical section here is a few plain field updates.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

const OFFSET_BITS: u32 = 40;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;

fn opaque(track: u32, offset: i64) -> usize {
    (((track as u64) << OFFSET_BITS) | (offset as u64 & OFFSET_MASK)) as usize
}

/// Outputs in flight per source offset, for one assigned partition.
struct Track {
    id: u32,
    topic: String,
    partition: i32,
    /// (offset, outputs not yet acknowledged), ascending; the front always has count > 0.
    pending: VecDeque<(i64, u32)>,
    /// One past the last offset processed.
    next: i64,
    committed: i64,
}

impl Track {
    fn commit_point(&self) -> i64 {
        self.pending.front().map_or(self.next, |&(o, _)| o)
    }

    fn register(&mut self, offset: i64, outputs: u32) {
        self.next = offset + 1;
        if outputs > 0 || !self.pending.is_empty() {
            self.pending.push_back((offset, outputs));
            self.pop_done();
        }
    }

    fn ack(&mut self, offset: i64) {
        let base = self.pending.front().map_or(0, |&(o, _)| o as u64) & !OFFSET_MASK;
        let offset = (base | offset as u64) as i64;
        if let Ok(i) = self.pending.binary_search_by_key(&offset, |&(o, _)| o) {
            let count = &mut self.pending[i].1;
            *count = count.saturating_sub(1);
            self.pop_done();
        }
    }

    fn pop_done(&mut self) {
        while matches!(self.pending.front(), Some(&(_, 0))) {
            self.pending.pop_front();
        }
    }
}

#[derive(Default)]
struct Tracker {
    tracks: Vec<Track>,
    next_id: u32,
}

impl Tracker {
    fn index(&mut self, topic: &str, partition: i32, offset: i64) -> usize {
        if let Some(i) = self
            .tracks
            .iter()
            .position(|t| t.partition == partition && t.topic == topic)
        {
            return i;
        }
        self.next_id = (self.next_id + 1) & 0x00ff_ffff;
        self.tracks.push(Track {
            id: self.next_id,
            topic: topic.to_string(),
            partition,
            pending: VecDeque::new(),
            next: offset,
            committed: -1,
        });
        self.tracks.len() - 1
    }

    fn ack(&mut self, opaque: usize) {
        let id = (opaque as u64 >> OFFSET_BITS) as u32;
        let offset = (opaque as u64 & OFFSET_MASK) as i64;
        if let Some(t) = self.tracks.iter_mut().find(|t| t.id == id) {
            t.ack(offset);
        }
    }

    /// Where each partition's processing stands: the positions an interval commit covers.
    fn positions(&self) -> Vec<(u32, i64)> {
        self.tracks.iter().map(|t| (t.id, t.next)).collect()
    }

    /// Whether every partition's commit point has reached `positions`; a partition revoked
    /// since has nothing left to wait for.
    fn reached(&self, positions: &[(u32, i64)]) -> bool {
        positions.iter().all(|&(id, next)| {
            self.tracks
                .iter()
                .find(|t| t.id == id)
                .is_none_or(|t| t.commit_point() >= next)
        })
    }

    /// The commit points that moved since the last commit (all of them with `again`),
    /// `only` limiting the partitions.
    fn commit_list(
        &mut self,
        only: Option<&TopicPartitionList>,
        again: bool,
    ) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for t in &mut self.tracks {
            if let Some(only) = only {
                if only.find_partition(&t.topic, t.partition).is_none() {
                    continue;
                }
            }
            let point = t.commit_point();
            if (point > t.committed || again)
                && tpl
                    .add_partition_offset(&t.topic, t.partition, Offset::Offset(point))
                    .is_ok()
            {
                t.committed = point;
            }
        }
        tpl
    }
}

/// A delivery that failed after librdkafka's retries.
use crate::oversize::Refused as Failed;

fn permanent(err: &KafkaError) -> bool {
    classify(err) == ErrorClass::Permanent
}

/// State shared by the poll loop and the librdkafka callbacks (which run on the loop's
/// thread, inside `poll`/`flush`, so the locks are never contended).
struct Shared {
    bootstrap: String,
    tracker: Mutex<Tracker>,
    failed: Mutex<Vec<Failed>>,
    fatal: Mutex<Option<String>>,
    broker_trouble: RateLimit,
    librdkafka_log: RateLimit,
    delivery_trouble: RateLimit,
}

impl Shared {
    fn client_error(&self, error: &KafkaError, reason: &str) {
        let Some(suppressed) = self.broker_trouble.check() else {
            return;
        };
        // Refused credentials, certificates or ACLs: say which setting to fix.
        if let Some(cause) = metricpipe_kafka::access::security_cause(&format!("{error}: {reason}"))
        {
            error!(%error, reason, suppressed, "{cause}; still retrying (one line per 30 s)");
            return;
        }
        let unreachable = error.rdkafka_error_code().is_some_and(is_unreachable);
        if unreachable {
            warn!(bootstrap = %self.bootstrap, %error, reason, suppressed,
                "cannot reach Kafka; still retrying (one line per 30 s)");
        } else {
            warn!(%error, reason, suppressed, "Kafka client error; still running (one line per 30 s)");
        }
    }

    /// librdkafka's own lines go to debug: connection trouble already reaches the error
    /// callback (one line per period above), and the rest is noise for an operator.
    /// Only its critical lines are shown, rate-limited.
    fn client_log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
                if let Some(suppressed) = self.librdkafka_log.check() {
                    warn!(facility = fac, suppressed, "librdkafka: {message}");
                }
            }
            _ => debug!(facility = fac, "librdkafka: {message}"),
        }
    }
}

struct ProducerCtx(Arc<Shared>);

impl ClientContext for ProducerCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.0.client_log(level, fac, log_message);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        self.0.client_error(&error, reason);
    }
}

impl ProducerContext for ProducerCtx {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        match result {
            Ok(_) => lock(&self.0.tracker).ack(opaque),
            Err((error, msg)) => lock(&self.0.failed).push(Failed {
                topic: msg.topic().to_string(),
                payload: msg.payload().unwrap_or_default().to_vec(),
                headers: msg.headers().map(|h| h.detach()),
                opaque,
                error: error.clone(),
            }),
        }
    }
}

type Prod = BaseProducer<ProducerCtx>;

/// Everything that sends: the poll loop and the revoke callback both use it.
struct Engine {
    shared: Arc<Shared>,
    producer: Prod,
    dlq_topic: Option<String>,
    dlq_max_value_bytes: usize,
    drain_timeout: Duration,
    dlq_records: Counter,
    commit_seconds: metrics::Histogram,
    stopping: Arc<AtomicBool>,
    /// Output topics' size limits, for refused batches (crate::oversize).
    limits: Mutex<crate::oversize::SizeLimits>,
    /// Failed deliveries, logged with counts once per interval.
    failures: Mutex<metricpipe_admin::tally::FailureTally>,
}

enum Sent {
    Queued,
    /// The producer will never take this record (e.g. larger than `message.max.bytes`).
    Refused(KafkaError),
    /// Shutdown was asked while waiting for room.
    Abandoned,
}

impl Engine {
    /// Hands one record to librdkafka, waiting (and serving delivery reports) while its
    /// queue is full. The caller has already counted it in the tracker.
    fn send(&self, topic: &str, payload: &[u8], headers: Option<OwnedHeaders>, op: usize) -> Sent {
        let mut record = BaseRecord::<(), [u8], usize>::with_opaque_to(topic, op).payload(payload);
        if let Some(h) = headers {
            record = record.headers(h);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Sent::Queued,
                Err((e, back)) => {
                    if permanent(&e) {
                        return Sent::Refused(e);
                    }
                    if let Some((code, reason)) = self.producer.client().fatal_error() {
                        // An idempotent producer that hit a fatal error never recovers:
                        // stop, so that a restart gets a fresh one. Nothing past this record
                        // is committed, so nothing is lost.
                        let mut fatal = lock(&self.shared.fatal);
                        if fatal.is_none() {
                            error!(%code, reason, "the producer hit a fatal error; stopping");
                            *fatal = Some(format!("{code}: {reason}"));
                        }
                        self.stopping.store(true, Ordering::Relaxed);
                        return Sent::Abandoned;
                    }
                    if !matches!(e.rdkafka_error_code(), Some(RDKafkaErrorCode::QueueFull)) {
                        if let Some(suppressed) = self.shared.delivery_trouble.check() {
                            warn!(topic, error = %e, suppressed, "producing failed; retrying");
                        }
                    }
                    // Records abandoned at shutdown stay uncommitted: processed again later.
                    if self.stopping.load(Ordering::Relaxed) {
                        return Sent::Abandoned;
                    }
                    record = back;
                    // Room comes back as delivery reports are served.
                    if !self.serve_delivery_reports() {
                        pause();
                    }
                }
            }
        }
    }

    /// Sends a dead letter for `value`, with the reason in headers. Returns false when the
    /// record could not even be dead-lettered (then it is only counted).
    fn dead_letter(&self, value: &[u8], headers: OwnedHeaders, op: usize) -> bool {
        let Some(dlq) = &self.dlq_topic else {
            return false;
        };
        let (value, headers) = if value.len() > self.dlq_max_value_bytes {
            let len = value.len().to_string();
            (
                &value[..self.dlq_max_value_bytes],
                headers.insert(Header {
                    key: dlq_headers::TRUNCATED_FROM,
                    value: Some(len.as_bytes()),
                }),
            )
        } else {
            (value, headers)
        };
        match self.send(dlq, value, Some(headers), op) {
            Sent::Queued => {
                self.dlq_records.increment(1);
                true
            }
            Sent::Refused(e) => {
                warn!(topic = %dlq, error = %e, "the dead-letter topic refused a record; it is counted and dropped");
                false
            }
            Sent::Abandoned => false,
        }
    }

    /// Deals with deliveries that failed after librdkafka's retries: retriable ones are sent
    /// again, batches refused as too large are split and sent again (crate::oversize), the
    /// rest are dead-lettered. Logged with counts, once per cause per interval.
    fn handle_failed(&self) {
        let failed = std::mem::take(&mut *lock(&self.shared.failed));
        let mut oversized = Vec::new();
        for f in failed {
            let is_dlq = self.dlq_topic.as_deref() == Some(f.topic.as_str());
            let code = format!("{:?}", f.error.rdkafka_error_code());
            if crate::oversize::is_size_refusal(&f.error) && !is_dlq {
                self.count_failure("split-and-resent", &code, &f);
                oversized.push(f);
            } else if !permanent(&f.error) {
                self.count_failure("retried", &code, &f);
                match self.send(&f.topic, &f.payload, f.headers, f.opaque) {
                    Sent::Queued | Sent::Abandoned => {}
                    Sent::Refused(_) => lock(&self.shared.tracker).ack(f.opaque),
                }
            } else {
                self.count_failure("refused-by-broker", &code, &f);
                self.dead_letter_refused(f, "refused-by-broker", is_dlq);
            }
        }
        if !oversized.is_empty() {
            let mut limits = lock(&self.limits);
            crate::oversize::split_and_resend(self, &mut limits, oversized, |f| {
                let code = format!("{:?}", f.error.rdkafka_error_code());
                self.count_failure("too-large", &code, &f);
                let is_dlq = self.dlq_topic.as_deref() == Some(f.topic.as_str());
                self.dead_letter_refused(f, "too-large", is_dlq);
            });
        }
        lock(&self.failures).log_due("streams", false);
    }

    fn count_failure(&self, outcome: &'static str, code: &str, f: &Failed) {
        if outcome != "split-and-resent" && outcome != "retried" {
            counter!("metricpipe_streams_bad_records_total", "reason" => outcome).increment(1);
        }
        counter!("metricpipe_streams_delivery_failures_total", "outcome" => outcome).increment(1);
        lock(&self.failures).count(outcome, code, &f.error.to_string(), &f.topic);
    }

    /// A record the brokers will never take: to the dead-letter topic, with the reason.
    fn dead_letter_refused(&self, f: Failed, reason: &str, is_dlq: bool) {
        let moved = !is_dlq
            && self.dead_letter(
                &f.payload,
                OwnedHeaders::new()
                    .insert(Header {
                        key: dlq_headers::REASON,
                        value: Some(reason),
                    })
                    .insert(Header {
                        key: dlq_headers::DETAIL,
                        value: Some(f.error.to_string().as_str()),
                    })
                    .insert(Header {
                        key: dlq_headers::ROUTED,
                        value: Some(f.topic.as_str()),
                    }),
                f.opaque,
            );
        if !moved {
            lock(&self.shared.tracker).ack(f.opaque);
        }
    }

    /// Waits until every output handed to the producer is acknowledged (or given up on).
    fn drain(&self) -> bool {
        let deadline = Instant::now() + self.drain_timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            self.wait_for_acks(left.min(Duration::from_millis(200)));
            self.handle_failed();
            if self.producer.in_flight_count() == 0 && lock(&self.shared.failed).is_empty() {
                lock(&self.failures).log_due("streams", true);
                return true;
            }
            if left.is_zero() {
                warn!(in_flight = self.producer.in_flight_count(), "outputs still in flight after the drain timeout; committing only what was acknowledged");
                return false;
            }
        }
    }

    /// Sends what lingers and waits, up to `timeout`, until every output handed to the
    /// producer is acknowledged and its report served. Returns soon after that is so.
    ///
    /// Not rust-rdkafka's `flush(t)`: it waits in 100 ms `poll` steps (its `poll(t)` always
    /// waits out `t`), so each flush took about 100 ms however fast the brokers answered.
    fn wait_for_acks(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        // With a zero timeout this returns at once; it wakes the broker threads with
        // librdkafka's flush flag raised, which may send lingering batches early (best
        // effort: the flag is down again by the time most threads look).
        let _ = self.producer.flush(Duration::ZERO);
        loop {
            self.serve_delivery_reports();
            if self.producer.in_flight_count() == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            pause();
        }
    }

    /// Serves every queued delivery report without waiting: `poll(ZERO)` serves one event
    /// (one batch's reports), and the in-flight count includes the reports not yet served.
    /// Returns whether it served any.
    fn serve_delivery_reports(&self) -> bool {
        let start = self.producer.in_flight_count();
        let mut before = start;
        while before > 0 {
            self.producer.poll(Duration::ZERO);
            let after = self.producer.in_flight_count();
            if after == before {
                break;
            }
            before = after;
        }
        before != start
    }

    fn commit(
        &self,
        consumer: &BaseConsumer<ConsumerCtx>,
        only: Option<&TopicPartitionList>,
        mode: CommitMode,
    ) {
        // rust-rdkafka 0.38 never reports how an asynchronous commit went (the commit
        // callback did not fire once in a 2,000 records/s run), so a failed one goes
        // unnoticed and its partitions count as committed. The synchronous commits, on
        // revoke and on shutdown, therefore send every partition's point again.
        let again = matches!(mode, CommitMode::Sync);
        let tpl = lock(&self.shared.tracker).commit_list(only, again);
        if tpl.count() == 0 {
            return;
        }
        let started = Instant::now();
        if let Err(e) = consumer.commit(&tpl, mode) {
            warn!(error = %e, "committing offsets failed; the next commit will carry them");
            let mut tracker = lock(&self.shared.tracker);
            for t in tracker.tracks.iter_mut() {
                if tpl.find_partition(&t.topic, t.partition).is_some() {
                    t.committed = -1;
                }
            }
        }
        self.commit_seconds.record(started.elapsed().as_secs_f64());
    }
}

impl crate::oversize::Resend for Engine {
    fn resend(&self, f: Failed) -> Option<Failed> {
        match self.send(&f.topic, &f.payload, f.headers.clone(), f.opaque) {
            // Abandoned at shutdown: left uncommitted, so processed again after a restart.
            Sent::Queued | Sent::Abandoned => None,
            Sent::Refused(error) => Some(Failed { error, ..f }),
        }
    }

    fn settle(&self) -> bool {
        self.wait_for_acks(self.drain_timeout)
    }

    fn take_refused(&self) -> Vec<Failed> {
        let mut failed = lock(&self.shared.failed);
        let (refused, rest) = std::mem::take(&mut *failed)
            .into_iter()
            .partition(|f| crate::oversize::is_size_refusal(&f.error));
        *failed = rest;
        refused
    }
}

struct ConsumerCtx {
    shared: Arc<Shared>,
    engine: Mutex<Option<Arc<Engine>>>,
}

impl ClientContext for ConsumerCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.shared.client_log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.shared.client_error(&error, reason);
    }

    fn stats(&self, statistics: Statistics) {
        // Lag, assignment, group state and rebalances (ship's edit: one call into telemetry).
        metricpipe_telemetry::record_consumer_statistics(&statistics);
    }
}

impl ConsumerContext for ConsumerCtx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        let engine = lock(&self.engine).clone();
        let Some(engine) = engine else {
            return;
        };
        // Outputs of the revoked partitions must be acknowledged before their offsets are
        // committed, and committed before the next owner starts: then a rebalance neither
        // loses nor duplicates. Offsets are never stored after this point for them, because
        // their tracks go away below.
        engine.drain();
        engine.commit(consumer, Some(revoked), CommitMode::Sync);
        let mut tracker = lock(&self.shared.tracker);
        tracker
            .tracks
            .retain(|t| revoked.find_partition(&t.topic, t.partition).is_none());
        info!(partitions = %describe(revoked), "partitions revoked after committing");
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => info!(partitions = %describe(tpl), "partitions assigned"),
            Rebalance::Error(e) => warn!(error = %e, "rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }

    /// Not called for asynchronous commits with rust-rdkafka 0.38 (see `Engine::commit`);
    /// kept for the versions that do.
    fn commit_callback(
        &self,
        result: rdkafka::error::KafkaResult<()>,
        offsets: &TopicPartitionList,
    ) {
        if let Err(e) = result {
            if !matches!(e, KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) {
                warn!(error = %e, partitions = %describe(offsets), "offset commit failed; the next commit will carry them");
                let mut tracker = lock(&self.shared.tracker);
                for t in tracker.tracks.iter_mut() {
                    if offsets.find_partition(&t.topic, t.partition).is_some() {
                        t.committed = -1;
                    }
                }
            }
        }
    }
}

fn describe(tpl: &TopicPartitionList) -> String {
    tpl.elements()
        .iter()
        .map(|e| format!("{}[{}]", e.topic(), e.partition()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Collects one record's outputs, so they can be counted before any is sent.
struct Batch {
    input: (*const u8, usize),
    outputs: Vec<(SinkId, Option<std::ops::Range<usize>>)>,
    scratch: Vec<u8>,
    rejections: Vec<(String, Reason)>,
}

impl Output for Batch {
    fn emit(&mut self, sink: SinkId, _topic: &str, value: &[u8]) {
        if (value.as_ptr(), value.len()) == self.input {
            self.outputs.push((sink, None));
        } else {
            let start = self.scratch.len();
            self.scratch.extend_from_slice(value);
            self.outputs.push((sink, Some(start..self.scratch.len())));
        }
    }

    fn reject(&mut self, node: &str, reason: Reason) {
        self.rejections.push((node.to_string(), reason));
    }
}

/// Runs `topology` until `stop` is set, then drains, commits and leaves the group.
pub fn run<X>(
    topology: &Topology<X>,
    config: &RuntimeConfig,
    stop: Arc<AtomicBool>,
) -> Result<RunSummary, StreamsError> {
    let shared = Arc::new(Shared {
        bootstrap: config.client.bootstrap.clone(),
        tracker: Mutex::new(Tracker::default()),
        failed: Mutex::new(Vec::new()),
        fatal: Mutex::new(None),
        broker_trouble: RateLimit::new(Duration::from_secs(30)),
        librdkafka_log: RateLimit::new(Duration::from_secs(30)),
        delivery_trouble: RateLimit::new(Duration::from_secs(10)),
    });
    let limits = crate::oversize::SizeLimits::for_run(topology, config);
    let producer: Prod = limits
        .producer_config(config.producer_config())
        .create_with_context(ProducerCtx(Arc::clone(&shared)))
        .map_err(|source| StreamsError::Client {
            what: "producer",
            source,
        })?;
    let engine = Arc::new(Engine {
        shared: Arc::clone(&shared),
        producer,
        dlq_topic: config.dlq_topic.clone(),
        dlq_max_value_bytes: config.dlq_max_value_bytes,
        drain_timeout: config.drain_timeout,
        dlq_records: counter!("metricpipe_streams_dlq_records_total"),
        commit_seconds: histogram!("metricpipe_streams_commit_duration_seconds"),
        stopping: Arc::clone(&stop),
        limits: Mutex::new(limits),
        failures: Mutex::new(metricpipe_admin::tally::FailureTally::new(
            Duration::from_secs(10),
        )),
    });
    let consumer: BaseConsumer<ConsumerCtx> = config
        .consumer_config()
        .create_with_context(ConsumerCtx {
            shared: Arc::clone(&shared),
            engine: Mutex::new(Some(Arc::clone(&engine))),
        })
        .map_err(|source| StreamsError::Client {
            what: "consumer",
            source,
        })?;
    let topics = topology.source_topics();
    consumer
        .subscribe(&topics)
        .map_err(|source| StreamsError::Subscribe {
            topics: topics.iter().map(|t| t.to_string()).collect(),
            source,
        })?;
    info!(application_id = %config.application_id, bootstrap = %config.client.bootstrap,
        topics = ?topics, commit_interval = ?config.commit_interval, "streams started");

    warn_missing_topics(&consumer, topology, config);

    let records_in: Vec<Counter> = topics
        .iter()
        .map(|t| counter!("metricpipe_streams_records_in_total", "topic" => t.to_string()))
        .collect();
    let records_out: Vec<Counter> = topology
        .sink_topics()
        .iter()
        .map(|t| counter!("metricpipe_streams_records_out_total", "topic" => t.clone()))
        .collect();
    let bad_log = RateLimit::new(Duration::from_secs(1));
    let mut summary = RunSummary::default();
    let mut batch = Batch {
        input: (std::ptr::null(), 0),
        outputs: Vec::new(),
        scratch: Vec::new(),
        rejections: Vec::new(),
    };
    let mut next_commit = Instant::now() + config.commit_interval;
    // An interval commit waits, without blocking the loop, until the outputs of every
    // record processed before its tick are acknowledged (or until the next tick is due).
    // Holds the positions to cover and the tick.
    let mut commit_due: Option<(Vec<(u32, i64)>, Instant)> = None;
    let commit_wait = histogram!("metricpipe_streams_commit_wait_seconds");
    let mut since_poll = 0u32;
    // (partition, track index, source id) of the last record: most records repeat it.
    let mut last: Option<(String, i32, usize)> = None;
    let mut first_record: Option<Instant> = None;
    let mut last_record = Instant::now();

    while !stop.load(Ordering::Relaxed) {
        // With housekeeping due, don't wait for the next record: do it as soon as the
        // prefetch queue is empty.
        let wait = if since_poll > 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(100)
        };
        match consumer.poll(wait) {
            None => {
                if let (Some(idle), Some(_)) = (config.exit_when_idle, first_record) {
                    if last_record.elapsed() >= idle {
                        info!(idle = ?idle, "no record for the idle timeout; stopping");
                        break;
                    }
                }
            }
            Some(Err(e)) => {
                if let Some(suppressed) = shared.broker_trouble.check() {
                    warn!(error = %e, suppressed, "consumer error; still polling");
                }
            }
            Some(Ok(msg)) => {
                let topic = msg.topic();
                let partition = msg.partition();
                let offset = msg.offset();
                let value = msg.payload().unwrap_or_default();
                let source = match &last {
                    Some((t, p, s)) if *p == partition && t == topic => *s,
                    _ => {
                        let s = topology.source_id(topic).unwrap_or(0);
                        last = Some((topic.to_string(), partition, s));
                        s
                    }
                };
                summary.records_in += 1;
                if first_record.is_none() {
                    last_record = Instant::now();
                    first_record = Some(last_record);
                }
                if let Some(c) = records_in.get(source) {
                    c.increment(1);
                }
                batch.input = (value.as_ptr(), value.len());
                batch.outputs.clear();
                batch.scratch.clear();
                batch.rejections.clear();
                topology.process(source, value, &mut batch);

                let dead_letters = if engine.dlq_topic.is_some() {
                    batch.rejections.len()
                } else {
                    0
                };
                let track_id = {
                    let mut tracker = lock(&shared.tracker);
                    let i = tracker.index(topic, partition, offset);
                    tracker.tracks[i].register(offset, (batch.outputs.len() + dead_letters) as u32);
                    tracker.tracks[i].id
                };
                let op = opaque(track_id, offset);
                let sinks = topology.sink_topics();
                for (sink, span) in &batch.outputs {
                    let bytes = match span {
                        None => value,
                        Some(r) => &batch.scratch[r.clone()],
                    };
                    let topic_out = sinks[*sink].as_str();
                    match engine.send(topic_out, bytes, None, op) {
                        Sent::Queued => {
                            summary.records_out += 1;
                            records_out[*sink].increment(1);
                        }
                        Sent::Refused(e) => {
                            counter!("metricpipe_streams_bad_records_total", "reason" => "refused-by-producer").increment(1);
                            warn!(topic = topic_out, error = %e, bytes = bytes.len(), "the producer refused an output record");
                            let headers = dlq_header_set(
                                "refused-by-producer",
                                &e.to_string(),
                                "",
                                topic_out,
                                (topic, partition, offset),
                            );
                            if !engine.dead_letter(bytes, headers, op) {
                                lock(&shared.tracker).ack(op);
                            }
                        }
                        Sent::Abandoned => {}
                    }
                }
                if !batch.rejections.is_empty() {
                    summary.rejected += batch.rejections.len() as u64;
                    let routed: Vec<&str> = batch
                        .outputs
                        .iter()
                        .map(|(s, _)| sinks[*s].as_str())
                        .collect();
                    let routed = routed.join(",");
                    for (node, reason) in &batch.rejections {
                        counter!("metricpipe_streams_bad_records_total", "reason" => reason.code)
                            .increment(1);
                        if let Some(suppressed) = bad_log.check() {
                            warn!(topic, partition, offset, node = %node, reason = reason.code,
                                detail = %reason.detail, suppressed, "record rejected");
                        }
                        if dead_letters > 0 {
                            let headers = dlq_header_set(
                                reason.code,
                                &reason.detail,
                                node,
                                &routed,
                                (topic, partition, offset),
                            );
                            if engine.dead_letter(value, headers, op) {
                                summary.dead_letters += 1;
                            } else {
                                lock(&shared.tracker).ack(op);
                            }
                        }
                    }
                }
                since_poll += 1;
                // Housekeeping (delivery reports, failed deliveries, the commit timer) every
                // 64 records or when the queue runs dry: a clock read and a producer poll per
                // record cost more than the topology itself.
                if since_poll < 64 {
                    continue;
                }
                last_record = Instant::now();
            }
        }
        since_poll = 0;
        engine.serve_delivery_reports();
        if !lock(&shared.failed).is_empty() {
            engine.handle_failed();
        }
        lock(&engine.failures).log_due("streams", false);
        let now = Instant::now();
        if now >= next_commit && commit_due.is_none() {
            next_commit = now + config.commit_interval;
            commit_due = Some((lock(&shared.tracker).positions(), now));
        }
        if let Some((positions, tick)) = &commit_due {
            // Committing at the tick would leave out the records still in flight (a linger
            // plus a round trip: a crash replays them too); flushing first, as Kafka Streams
            // does, stalls the loop. So the commit waits here for their acknowledgements
            // while processing goes on. With brokers down it gives up after an interval and
            // commits the acknowledged prefix.
            let gave_up = now >= next_commit;
            if gave_up || lock(&shared.tracker).reached(positions) {
                // How stale a commit is when it leaves: a crash replays this much input
                // on top of the interval (and the commit's own round trip).
                let waited = now.saturating_duration_since(*tick);
                commit_wait.record(waited.as_secs_f64());
                debug!(waited = ?waited, gave_up, "interval commit");
                engine.commit(&consumer, None, CommitMode::Async);
                commit_due = None;
            }
        }
    }
    if first_record.is_some() && since_poll > 0 {
        last_record = Instant::now();
    }

    info!("stopping: draining in-flight outputs and committing");
    engine.drain();
    engine.commit(&consumer, None, CommitMode::Sync);
    // Dropping the consumer closes it, which leaves the group at once (the revoke callback
    // finds nothing left to commit).
    drop(consumer);
    if let Some(first) = first_record {
        summary.busy = last_record.duration_since(first);
    }
    let rate = summary.records_in as f64 / summary.busy.as_secs_f64().max(1e-3);
    info!(
        records_in = summary.records_in,
        records_out = summary.records_out,
        rejected = summary.rejected,
        busy = ?summary.busy,
        records_per_second = rate as u64,
        "streams stopped"
    );
    if let Some(fatal) = lock(&shared.fatal).take() {
        return Err(StreamsError::FatalProducer(fatal));
    }
    Ok(summary)
}

/// One clear line per topic the run needs that the cluster does not have (brokers here
/// do not create topics): reading or writing it waits until someone creates it.
fn warn_missing_topics<X>(
    consumer: &BaseConsumer<ConsumerCtx>,
    topology: &Topology<X>,
    config: &RuntimeConfig,
) {
    // Unreachable brokers are reported by the error callback; no need to say it twice.
    let Ok(metadata) = consumer.fetch_metadata(None, Duration::from_secs(5)) else {
        return;
    };
    let existing: Vec<&str> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| t.name())
        .collect();
    let needed = topology
        .source_topics()
        .into_iter()
        .chain(topology.sink_topics().iter().map(String::as_str))
        .chain(config.dlq_topic.as_deref());
    for topic in needed {
        if existing.contains(&topic) {
            continue;
        }
        // Absent from the all-topics answer: missing, or hidden by a missing ACL.
        match metricpipe_kafka::access::topic_access(consumer, topic, Duration::from_secs(5)) {
            Ok(metricpipe_kafka::access::TopicAccess::NotAuthorized) => {
                error!(topic, "{}", metricpipe_kafka::access::not_authorized_message(topic))
            }
            _ => warn!(topic, "this topic does not exist: create it (e.g. `metricpipe topics create`); its records wait until then"),
        }
    }
}

fn dlq_header_set(
    reason: &str,
    detail: &str,
    node: &str,
    routed: &str,
    (topic, partition, offset): (&str, i32, i64),
) -> OwnedHeaders {
    let partition = partition.to_string();
    let offset = offset.to_string();
    OwnedHeaders::new_with_capacity(7)
        .insert(Header {
            key: dlq_headers::REASON,
            value: Some(reason),
        })
        .insert(Header {
            key: dlq_headers::DETAIL,
            value: Some(detail),
        })
        .insert(Header {
            key: dlq_headers::NODE,
            value: Some(node),
        })
        .insert(Header {
            key: dlq_headers::ROUTED,
            value: Some(routed),
        })
        .insert(Header {
            key: dlq_headers::SOURCE_TOPIC,
            value: Some(topic),
        })
        .insert(Header {
            key: dlq_headers::SOURCE_PARTITION,
            value: Some(partition.as_str()),
        })
        .insert(Header {
            key: dlq_headers::SOURCE_OFFSET,
            value: Some(offset.as_str()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_point_waits_for_the_oldest_unacknowledged_output() {
        let mut t = Track {
            id: 1,
            topic: "t".into(),
            partition: 0,
            pending: VecDeque::new(),
            next: 10,
            committed: -1,
        };
        t.register(10, 2);
        t.register(11, 0);
        t.register(12, 1);
        assert_eq!(t.commit_point(), 10);
        t.ack(12);
        assert_eq!(t.commit_point(), 10, "a later ack must not move the point");
        t.ack(10);
        assert_eq!(t.commit_point(), 10);
        t.ack(10);
        assert_eq!(t.commit_point(), 13);
        t.register(13, 0);
        assert_eq!(t.commit_point(), 14);
    }

    #[test]
    fn opaque_round_trips_track_and_offset() {
        let mut tracker = Tracker::default();
        let i = tracker.index("t", 2, 5_000_000_000);
        tracker.tracks[i].register(5_000_000_000, 1);
        let id = tracker.tracks[i].id;
        tracker.ack(opaque(id, 5_000_000_000));
        assert_eq!(tracker.tracks[i].commit_point(), 5_000_000_001);
    }

    #[test]
    fn an_interval_commit_waits_for_what_was_processed_before_its_tick() {
        let mut tracker = Tracker::default();
        let a = tracker.index("t", 0, 0);
        let b = tracker.index("t", 1, 0);
        tracker.tracks[a].register(0, 1);
        tracker.tracks[b].register(0, 0);
        let positions = tracker.positions();
        tracker.tracks[b].register(1, 1);
        assert!(
            !tracker.reached(&positions),
            "partition 0's output is in flight"
        );
        let id = tracker.tracks[a].id;
        tracker.ack(opaque(id, 0));
        assert!(
            tracker.reached(&positions),
            "partition 1's later record is not waited for"
        );
        tracker.tracks.remove(a);
        assert!(
            tracker.reached(&[(id, 99)]),
            "a revoked partition is not waited for"
        );
    }

    #[test]
    fn commit_list_only_carries_moved_points() {
        let mut tracker = Tracker::default();
        let i = tracker.index("t", 0, 0);
        tracker.tracks[i].register(0, 0);
        assert_eq!(tracker.commit_list(None, false).count(), 1);
        assert_eq!(tracker.commit_list(None, false).count(), 0);
        assert_eq!(
            tracker.commit_list(None, true).count(),
            1,
            "a final commit sends the point again, in case an async commit failed unseen"
        );
    }
}
