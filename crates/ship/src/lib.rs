//! The metricpipe agent's Kafka sink: a bounded, drop-oldest queue in front of an rdkafka
//! producer.
//!
//! - [`KafkaSink::start`] builds the producer from a [`SinkConfig`] and starts one delivery
//!   thread. [`KafkaSink::send`] never blocks and never fails: collection goes on whatever
//!   the brokers do. [`KafkaSink::stats`] and [`KafkaSink::shutdown`] (a flush bounded in time)
//!   give exact counts in [`SinkStats`].
//! - **Bound:** events queued here plus events handed to librdkafka never exceed
//!   `queue_capacity`. When the bound is reached the oldest queued event is dropped and
//!   counted. At most `max_in_flight` events are handed to librdkafka at a time; an event
//!   whose delivery fails for a retryable reason (brokers down, `message.timeout.ms` expired)
//!   goes back to the front of the queue, so librdkafka never holds more than that.
//! - Records carry no key. Partitions are chosen per record by [`Partitioning`]: random (a
//!   new random partition every `group_events` records) or round robin.
//! - **Topic limits:** a broker refuses a whole batch larger than the topic's
//!   `max.message.bytes`. Batches here never exceed the events handed to librdkafka, so the
//!   sink bounds the bytes it hands over (see [`batch_bound`]): at most the limit read from
//!   the brokers (DescribeConfigs, at start and every [`LIMITS_REFRESH`]), halved each time
//!   a batch is refused anyway. An event refused as too large goes back to the queue unless
//!   it went alone: only then is it failed (too large for the topic).
//! - **Access refusals keep the events:** an event refused for a missing ACL
//!   (`TOPIC_AUTHORIZATION_FAILED`) or refused credentials goes back to the queue, and
//!   nothing is handed over for [`ACCESS_RETRY`]; once the ACL is granted delivery resumes.
//!   The wait is bounded by the drop-oldest queue, like an outage. One ERROR line per 30 s
//!   names the topic and the ACL to grant. (Metricbeat retries such events `max_retries`
//!   times, 3 by default, then drops them.) A `CORRUPT_MESSAGE` answer is retried too.
//! - Failed deliveries are logged with counts, one line per cause per 10 s.
//! - Counters are also published with the `metrics` crate:
//!   `metricpipe_agent_events_sent_total`, `metricpipe_agent_events_dropped_total`,
//!   `metricpipe_agent_events_failed_total`, `metricpipe_agent_events_retried_total`,
//!   `metricpipe_agent_queue_depth`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Partitioner, Producer, ProducerContext,
};
use rdkafka::ClientContext;

/// Errors of starting the sink. Each names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error("creating the Kafka producer failed: {0}. Check output.kafka.hosts and the client properties")]
    Producer(#[source] KafkaError),
    #[error("output.kafka.hosts is empty: list at least one broker, e.g. [\"localhost:9092\"]")]
    NoHosts,
    #[error("starting the delivery thread failed: {0}")]
    Thread(#[source] std::io::Error),
}

/// How unkeyed records are spread over partitions (`output.kafka.partition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioning {
    /// A new random partition every `group_events` records (Metricbeat's `random`, and its
    /// default for unkeyed records).
    Random { group_events: u64 },
    /// Start at a random partition and advance every `group_events` records.
    RoundRobin { group_events: u64 },
}

/// The sink's settings. Defaults follow Metricbeat's Kafka output.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub hosts: Vec<String>,
    /// `acks`: 0, 1 or -1 (all). Metricbeat's default is 1.
    pub required_acks: i32,
    /// `compression.type`: none, gzip, snappy, lz4 or zstd.
    pub compression: String,
    pub compression_level: Option<i32>,
    pub client_id: String,
    /// Larger records fail at once and are counted as failed.
    pub max_message_bytes: usize,
    pub partitioning: Partitioning,
    /// The bound on events held (queued plus in flight).
    pub queue_capacity: usize,
    /// How many events librdkafka may hold at a time.
    pub max_in_flight: usize,
    /// librdkafka's `message.timeout.ms`: after it a record comes back and is queued again.
    pub message_timeout: Duration,
    /// Extra librdkafka properties, applied last (e.g. `security.protocol`).
    pub properties: Vec<(String, String)>,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            hosts: Vec::new(),
            required_acks: 1,
            compression: "gzip".into(),
            compression_level: Some(4),
            client_id: "beats".into(),
            max_message_bytes: 1_000_000,
            partitioning: Partitioning::Random { group_events: 1 },
            queue_capacity: 3200,
            max_in_flight: 256,
            message_timeout: Duration::from_secs(30),
            properties: Vec::new(),
        }
    }
}

/// One record: a topic and a JSON value. Records never carry a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: String,
    pub payload: Vec<u8>,
}

/// Exact counts since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Acknowledged by Kafka (at the configured acks).
    pub sent: u64,
    /// Dropped because the queue was full (oldest first), or still held at shutdown.
    pub dropped: u64,
    /// Rejected for good: too large for the topic even alone, an invalid record or topic.
    pub failed: u64,
    /// Deliveries that failed for a retryable reason and went back to the queue.
    pub retried: u64,
    /// Held now: waiting here, and handed to librdkafka.
    pub queued: usize,
    pub in_flight: usize,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Record>,
    in_flight: usize,
    /// Bytes handed to librdkafka, as a batch counts them (value plus record framing).
    in_flight_bytes: usize,
    /// The most bytes handed over at once; `usize::MAX` until a limit is known.
    bound: usize,
    /// Bumped when a refusal lowers `bound`, so a refused batch lowers it once.
    bound_generation: u64,
    /// The bound the topics' limits allow; `bound` returns to it at each refresh.
    limit_bound: usize,
    /// After an access refusal (a missing ACL), nothing is handed over before this: the
    /// events wait in the queue instead of bouncing off the broker.
    hold_until: Option<Instant>,
}

/// How long the sink waits after an access refusal before it tries again (Metricbeat's
/// `backoff.init`).
pub const ACCESS_RETRY: Duration = Duration::from_secs(1);

/// How often the topics' `max.message.bytes` are read again.
pub const LIMITS_REFRESH: Duration = Duration::from_secs(60);

/// Bytes a record takes in a batch, uncompressed: value plus record framing (at most 21
/// bytes without key or headers).
fn batch_bytes(record: &Record) -> usize {
    record.payload.len() + 21
}

/// An event handed to librdkafka, with what a refusal needs to know.
struct Held {
    record: Record,
    /// `bound_generation` when it was handed over.
    generation: u64,
    /// Nothing else could share its batch: nothing was in flight and it fills the bound.
    alone: bool,
}

/// Whether one more record of `bytes` may be handed to librdkafka: always when nothing is
/// in flight, else while the bytes in flight stay within `bound` (a batch, 61 bytes of
/// header plus its records, can then never be larger than `bound` + 61).
pub fn batch_bound(in_flight: usize, in_flight_bytes: usize, bytes: usize, bound: usize) -> bool {
    in_flight == 0 || in_flight_bytes.saturating_add(bytes).saturating_add(61) <= bound
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    capacity: usize,
    closing: AtomicBool,
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    failures: Mutex<metricpipe_admin::tally::FailureTally>,
    /// Topics written to, for the limits refresh.
    topics: Mutex<Vec<String>>,
    /// Set by a size refusal: read the limits again soon.
    limits_stale: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic elsewhere must not stop delivery: the queue stays consistent under the lock.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish_depth(&self, q: &Queue) {
        metrics::gauge!("metricpipe_agent_queue_depth").set((q.waiting.len() + q.in_flight) as f64);
    }

    fn count_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        metrics::counter!("metricpipe_agent_events_dropped_total").increment(n);
    }

    fn count_failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("metricpipe_agent_events_failed_total").increment(1);
    }

    fn tally(&self, outcome: &'static str, error: &KafkaError, topic: &str) {
        let code = format!("{:?}", error.rdkafka_error_code());
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .count(outcome, &code, &error.to_string(), topic);
    }

    /// Events taken for librdkafka but not handed over: back to the front, in order.
    fn give_back(&self, held: Vec<Held>) {
        if held.is_empty() {
            return;
        }
        let mut q = self.lock();
        for h in held.into_iter().rev() {
            q.in_flight = q.in_flight.saturating_sub(1);
            q.in_flight_bytes = q.in_flight_bytes.saturating_sub(batch_bytes(&h.record));
            q.waiting.push_front(h.record);
        }
    }

    /// A record came back from librdkafka undelivered.
    fn returned(&self, held: Held, error: &KafkaError) {
        let record = held.record;
        let mut q = self.lock();
        q.in_flight = q.in_flight.saturating_sub(1);
        q.in_flight_bytes = q.in_flight_bytes.saturating_sub(batch_bytes(&record));
        let size_refusal = matches!(
            error,
            KafkaError::MessageProduction(
                RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::MessageBatchTooLarge
            )
        );
        if self.closing.load(Ordering::Relaxed) {
            self.count_dropped(1);
        } else if size_refusal && !held.alone {
            // The batch was too large, not the event: hand over less at once and send it
            // again. Every event of the refused batch comes back; only the first lowers
            // the bound.
            if held.generation == q.bound_generation {
                let sent = q.bound.min(q.in_flight_bytes + batch_bytes(&record));
                q.bound = (sent / 2).max(1);
                q.bound_generation += 1;
                self.limits_stale.store(true, Ordering::Relaxed);
            }
            self.tally("split-and-resent", error, &record.topic);
            self.retried.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("metricpipe_agent_events_retried_total").increment(1);
            q.waiting.push_front(record);
        } else if is_access_refusal(error) {
            // A missing ACL or refused credentials: the event goes through once an operator
            // fixes them. Keep it (bounded by the drop-oldest queue) and try again later.
            self.tally("not-authorized", error, &record.topic);
            if metricpipe_kafka::access::log_refusal_now() {
                tracing::error!(topic = %record.topic, %error, "{}; the events wait in the queue and are retried every {ACCESS_RETRY:?} (one line per 30 s)",
                    refusal_message(error, &record.topic));
            }
            self.retried.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("metricpipe_agent_events_retried_total").increment(1);
            q.hold_until = Some(Instant::now() + ACCESS_RETRY);
            q.waiting.push_front(record);
        } else if is_retryable(error) {
            self.tally("retried", error, &record.topic);
            self.retried.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("metricpipe_agent_events_retried_total").increment(1);
            q.waiting.push_front(record);
        } else {
            let outcome = if size_refusal { "too-large" } else { "failed" };
            self.tally(outcome, error, &record.topic);
            self.count_failed();
        }
        self.publish_depth(&q);
    }
}

/// Errors that mean "not now" rather than "never": the record goes back to the queue.
/// The classes come from metricpipe-kafka's one table.
fn is_retryable(error: &KafkaError) -> bool {
    metricpipe_kafka::classify(error) == metricpipe_kafka::ErrorClass::Retriable
}

fn is_access_refusal(error: &KafkaError) -> bool {
    error
        .rdkafka_error_code()
        .is_some_and(metricpipe_kafka::is_access_refusal)
}

/// The operator's line for an access refusal: the topic's ACL, or the credentials.
fn refusal_message(error: &KafkaError, topic: &str) -> String {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::TopicAuthorizationFailed) => {
            metricpipe_kafka::access::not_authorized_message(topic)
        }
        _ => metricpipe_kafka::access::security_cause(&error.to_string())
            .unwrap_or_else(|| format!("the brokers refuse this client: {error}")),
    }
}

/// Whether events may be handed over now (not holding back after an access refusal).
fn may_hand_over(q: &Queue) -> bool {
    q.hold_until.is_none_or(|t| Instant::now() >= t)
}

struct SpreadPartitioner {
    mode: Partitioning,
    count: AtomicU64,
    current: AtomicUsize,
}

impl Partitioner for SpreadPartitioner {
    fn partition(
        &self,
        _topic: &str,
        _key: Option<&[u8]>,
        partition_cnt: i32,
        _is_available: impl Fn(i32) -> bool,
    ) -> i32 {
        let partitions = partition_cnt.max(1) as usize;
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        let (group, round_robin) = match self.mode {
            Partitioning::Random { group_events } => (group_events.max(1), false),
            Partitioning::RoundRobin { group_events } => (group_events.max(1), true),
        };
        if n.is_multiple_of(group) {
            let next = if round_robin && n > 0 {
                (self.current.load(Ordering::Relaxed) + 1) % partitions
            } else {
                fastrand::usize(..partitions)
            };
            self.current.store(next, Ordering::Relaxed);
        }
        (self.current.load(Ordering::Relaxed) % partitions) as i32
    }
}

struct SinkContext {
    shared: Arc<Shared>,
    partitioner: SpreadPartitioner,
}

impl ClientContext for SinkContext {
    fn error(&self, error: KafkaError, reason: &str) {
        // A refusal (credentials, certificate, ACL) does not cure itself: say which setting
        // to fix, once per 30 s. Everything else is an outage, expected and retried.
        let text = format!("{error}: {reason}");
        match metricpipe_kafka::access::security_cause(&text) {
            Some(cause) if metricpipe_kafka::access::log_refusal_now() => {
                tracing::error!(%error, reason, "{cause}; still retrying (one line per 30 s)")
            }
            Some(_) => {}
            // librdkafka reports every broker it cannot reach; outages are expected and retried.
            None => tracing::debug!(%error, reason, "kafka client error"),
        }
    }
}

impl ProducerContext<SpreadPartitioner> for SinkContext {
    type DeliveryOpaque = Box<Held>;

    fn delivery(&self, result: &DeliveryResult<'_>, held: Box<Held>) {
        match result {
            Ok(_) => {
                self.shared.sent.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("metricpipe_agent_events_sent_total").increment(1);
                let mut q = self.shared.lock();
                q.in_flight = q.in_flight.saturating_sub(1);
                q.in_flight_bytes = q.in_flight_bytes.saturating_sub(batch_bytes(&held.record));
                self.shared.publish_depth(&q);
            }
            Err((error, _)) => self.shared.returned(*held, error),
        }
        self.shared.wake.notify_all();
    }

    fn get_custom_partitioner(&self) -> Option<&SpreadPartitioner> {
        Some(&self.partitioner)
    }
}

type Producer_ = BaseProducer<SinkContext, SpreadPartitioner>;

/// The running sink. Dropping it without [`KafkaSink::shutdown`] flushes for up to 5 s.
pub struct KafkaSink {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    flush_deadline: Arc<Mutex<Option<Instant>>>,
}

impl KafkaSink {
    /// Build the producer and start the delivery thread. Brokers are not contacted here: a
    /// cluster that is down at start is fine, delivery begins when it comes up.
    pub fn start(config: SinkConfig) -> Result<Self, ShipError> {
        if config.hosts.is_empty() {
            return Err(ShipError::NoHosts);
        }
        let capacity = config.queue_capacity.max(1);
        let max_in_flight = config.max_in_flight.clamp(1, capacity.div_ceil(2).max(1));
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            capacity,
            closing: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            failures: Mutex::new(metricpipe_admin::tally::FailureTally::new(
                Duration::from_secs(10),
            )),
            topics: Mutex::new(Vec::new()),
            limits_stale: AtomicBool::new(true),
        });
        {
            let mut q = shared.lock();
            q.bound = usize::MAX;
            q.limit_bound = usize::MAX;
        }
        let mut cc = ClientConfig::new();
        cc.set("bootstrap.servers", config.hosts.join(","))
            .set("acks", config.required_acks.to_string())
            .set("compression.type", config.compression.as_str())
            .set("client.id", config.client_id.as_str())
            .set("message.max.bytes", config.max_message_bytes.to_string())
            .set(
                "message.timeout.ms",
                config.message_timeout.as_millis().to_string(),
            )
            // Our partitioner must see unkeyed records, and our queue holds the backlog.
            .set("sticky.partitioning.linger.ms", "0")
            .set(
                "queue.buffering.max.messages",
                (max_in_flight * 2).max(16).to_string(),
            )
            // Idempotence would turn a long outage into a fatal error; Metricbeat has none either.
            .set("enable.idempotence", "false");
        if let Some(level) = config.compression_level {
            cc.set("compression.level", level.to_string());
        }
        for (k, v) in &config.properties {
            cc.set(k.as_str(), v.as_str());
        }
        let context = SinkContext {
            shared: shared.clone(),
            partitioner: SpreadPartitioner {
                mode: config.partitioning,
                count: AtomicU64::new(0),
                current: AtomicUsize::new(0),
            },
        };
        let producer: Producer_ = cc
            .create_with_context(context)
            .map_err(ShipError::Producer)?;
        let flush_deadline = Arc::new(Mutex::new(None));
        spawn_limits_reader(&config, &shared).map_err(ShipError::Thread)?;
        let worker = {
            let shared = shared.clone();
            let flush_deadline = flush_deadline.clone();
            std::thread::Builder::new()
                .name("kafka-sink".into())
                .spawn(move || deliver(producer, shared, max_in_flight, flush_deadline))
                .map_err(ShipError::Thread)?
        };
        Ok(KafkaSink {
            shared,
            worker: Some(worker),
            flush_deadline,
        })
    }

    /// Queue a record. Never blocks: when the queue is full the oldest waiting record is
    /// dropped (and counted) to make room.
    pub fn send(&self, record: Record) {
        let shared = &self.shared;
        let mut q = shared.lock();
        if q.waiting.len() + q.in_flight >= shared.capacity {
            if q.waiting.pop_front().is_some() {
                shared.count_dropped(1);
            } else {
                // Everything held is in librdkafka's hands: the new record is the one to go.
                shared.count_dropped(1);
                return;
            }
        }
        {
            // A handful of topics at most: the limits reader reads theirs.
            let mut topics = shared.topics.lock().unwrap_or_else(|p| p.into_inner());
            if !topics.contains(&record.topic) {
                topics.push(record.topic.clone());
            }
        }
        q.waiting.push_back(record);
        shared.publish_depth(&q);
        drop(q);
        shared.wake.notify_all();
    }

    pub fn stats(&self) -> SinkStats {
        let q = self.shared.lock();
        SinkStats {
            sent: self.shared.sent.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
            retried: self.shared.retried.load(Ordering::Relaxed),
            queued: q.waiting.len(),
            in_flight: q.in_flight,
        }
    }

    /// Deliver what is held for up to `timeout`, then drop (and count) the rest.
    pub fn shutdown(mut self, timeout: Duration) -> SinkStats {
        self.stop(timeout);
        self.stats()
    }

    fn stop(&mut self, timeout: Duration) {
        let Some(worker) = self.worker.take() else {
            return;
        };
        *self
            .flush_deadline
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + timeout);
        self.shared.wake.notify_all();
        if worker.join().is_err() {
            tracing::error!("the kafka delivery thread panicked");
        }
    }
}

impl Drop for KafkaSink {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// The delivery thread: hand waiting records to librdkafka while fewer than `max_in_flight`
/// are out, serve delivery reports, and sleep when there is nothing to do.
fn deliver(
    producer: Producer_,
    shared: Arc<Shared>,
    max_in_flight: usize,
    flush_deadline: Arc<Mutex<Option<Instant>>>,
) {
    loop {
        let deadline = *flush_deadline.lock().unwrap_or_else(|p| p.into_inner());
        let mut batch = take_batch(&shared, max_in_flight).into_iter();
        while let Some(held) = batch.next() {
            if !hand_over(&producer, &shared, held) {
                // Refused at once (queue full, a topic missing from the metadata): the rest
                // would be too. Give them back and wait a little instead of spinning.
                shared.give_back(batch.by_ref().collect());
                producer.poll(Duration::from_millis(100));
            }
        }
        shared
            .failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .log_due("agent", false);
        let (waiting, in_flight, holding) = {
            let q = shared.lock();
            (q.waiting.len(), q.in_flight, !may_hand_over(&q))
        };
        if let Some(deadline) = deadline {
            if (waiting == 0 && in_flight == 0) || Instant::now() >= deadline {
                break;
            }
        }
        if holding && in_flight == 0 {
            // Waiting out an access refusal: serve reports, don't spin.
            producer.poll(Duration::from_millis(100));
        } else if in_flight > 0 {
            // Blocks in librdkafka until the timeout passes (rust-rdkafka waits it out). With
            // events held back by the byte bound rather than the count, each acknowledgement
            // makes room: look again sooner.
            let step = if waiting > 0 && in_flight < max_in_flight {
                10
            } else {
                100
            };
            producer.poll(Duration::from_millis(step));
        } else if waiting == 0 {
            let q = shared.lock();
            if q.waiting.is_empty() && deadline.is_none() {
                let _unused = shared
                    .wake
                    .wait_timeout(q, Duration::from_secs(1))
                    .map(|(q, _)| drop(q));
            }
        }
    }
    // Whatever is still held after the deadline is lost: count it.
    shared.closing.store(true, Ordering::Relaxed);
    producer.purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
    producer.poll(Duration::from_millis(500));
    let mut q = shared.lock();
    let left = q.waiting.len() as u64;
    q.waiting.clear();
    if left > 0 {
        shared.count_dropped(left);
    }
    let lost = left + q.in_flight as u64;
    if lost > 0 {
        tracing::warn!(
            events = lost,
            "shutting down with undelivered events; they are dropped"
        );
    }
    if q.in_flight > 0 {
        // Reports that never came back: count them too, so the totals add up.
        shared.count_dropped(q.in_flight as u64);
        q.in_flight = 0;
    }
    shared.publish_depth(&q);
    drop(q);
    shared
        .failures
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .log_due("agent", true);
}

/// Takes the waiting events that may go to librdkafka now: fewer than `max_in_flight`
/// held there, and their bytes within the bound ([`batch_bound`]).
fn take_batch(shared: &Shared, max_in_flight: usize) -> Vec<Held> {
    let mut q = shared.lock();
    let mut out = Vec::new();
    if !may_hand_over(&q) {
        return out;
    }
    q.hold_until = None;
    while q.in_flight < max_in_flight {
        let Some(bytes) = q.waiting.front().map(batch_bytes) else {
            break;
        };
        if !batch_bound(q.in_flight, q.in_flight_bytes, bytes, q.bound) {
            break;
        }
        let alone = q.in_flight == 0 && bytes.saturating_add(61) >= q.bound;
        let Some(record) = q.waiting.pop_front() else {
            break;
        };
        q.in_flight += 1;
        q.in_flight_bytes += bytes;
        out.push(Held {
            record,
            generation: q.bound_generation,
            alone,
        });
    }
    out
}

/// Reads the `max.message.bytes` of the topics written to, at start, every
/// [`LIMITS_REFRESH`] and soon after a refusal, and sets the sink's bound under the
/// smallest. Brokers that do not answer leave the bound as it is.
fn spawn_limits_reader(config: &SinkConfig, shared: &Arc<Shared>) -> std::io::Result<()> {
    use metricpipe_admin::limits;
    let mut opts = metricpipe_admin::AdminOptions::new(config.hosts.join(","));
    opts.timeout = Duration::from_secs(10);
    opts.client_properties = config
        .properties
        .iter()
        .filter(|(k, _)| limits::is_connection_property(k))
        .cloned()
        .collect();
    let shared = Arc::downgrade(shared);
    std::thread::Builder::new()
        .name("kafka-limits".into())
        .spawn(move || {
            let mut last_read: Option<Instant> = None;
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                if shared.closing.load(Ordering::Relaxed) {
                    return;
                }
                let stale = shared.limits_stale.load(Ordering::Relaxed);
                let due = last_read.is_none_or(|t| {
                    t.elapsed() >= LIMITS_REFRESH
                        || (stale && t.elapsed() >= Duration::from_secs(5))
                });
                let topics = shared
                    .topics
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                if !due || topics.is_empty() {
                    continue;
                }
                last_read = Some(Instant::now());
                let names: Vec<&str> = topics.iter().map(String::as_str).collect();
                let Ok(found) = limits::max_message_bytes(&opts, &names) else {
                    continue;
                };
                shared.limits_stale.store(false, Ordering::Relaxed);
                let Some(bound) = found.values().map(|l| limits::batch_size_under(*l)).min() else {
                    continue;
                };
                let mut q = shared.lock();
                if q.limit_bound != bound {
                    tracing::info!(
                        batch_bytes = bound,
                        "agent batches sized under the topics' max.message.bytes"
                    );
                }
                q.limit_bound = bound;
                q.bound = bound;
                q.bound_generation += 1;
            }
        })
        .map(drop)
}

/// Hands one event to librdkafka; false when it refused it at once (the event is then
/// requeued or failed, as its error says).
fn hand_over(producer: &Producer_, shared: &Shared, held: Held) -> bool {
    let boxed = Box::new(held);
    // The payload is copied by librdkafka (RD_KAFKA_MSG_F_COPY), the box comes back in the report.
    let (topic, payload) = (boxed.record.topic.clone(), boxed.record.payload.clone());
    let base: BaseRecord<'_, (), [u8], Box<Held>> =
        BaseRecord::with_opaque_to(&topic, boxed).payload(&payload);
    if let Err((error, base)) = producer.send(base) {
        let mut held = *base.delivery_opaque;
        // Refused before any batch (larger than message.max.bytes): the event itself.
        held.alone = true;
        shared.returned(held, &error);
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink_with_dead_brokers(capacity: usize) -> KafkaSink {
        KafkaSink::start(SinkConfig {
            // Nothing listens on port 1: librdkafka keeps every record until its timeout.
            hosts: vec!["127.0.0.1:1".into()],
            queue_capacity: capacity,
            max_in_flight: 2,
            message_timeout: Duration::from_secs(60),
            ..SinkConfig::default()
        })
        .unwrap()
    }

    fn record(i: usize) -> Record {
        Record {
            topic: "t".into(),
            payload: format!("{i}").into_bytes(),
        }
    }

    #[test]
    fn the_bound_holds_and_drops_are_exact() {
        let sink = sink_with_dead_brokers(10);
        for i in 0..25 {
            sink.send(record(i));
        }
        std::thread::sleep(Duration::from_millis(300));
        let s = sink.stats();
        assert_eq!(s.queued + s.in_flight, 10, "{s:?}");
        assert_eq!(s.dropped, 15, "{s:?}");
        assert_eq!(s.sent, 0);
        let s = sink.shutdown(Duration::from_millis(200));
        assert_eq!(s.dropped, 25, "every event is accounted for: {s:?}");
        assert_eq!(s.queued + s.in_flight, 0);
    }

    #[test]
    fn the_oldest_waiting_record_goes_first() {
        let sink = sink_with_dead_brokers(4);
        for i in 0..6 {
            sink.send(record(i));
        }
        std::thread::sleep(Duration::from_millis(200));
        let q = sink.shared.lock();
        let waiting: Vec<_> = q
            .waiting
            .iter()
            .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
            .collect();
        // Two records are in librdkafka's hands, the two oldest waiting ones were dropped.
        assert_eq!(waiting, vec!["4", "5"]);
        drop(q);
        assert_eq!(sink.shutdown(Duration::from_millis(100)).dropped, 6);
    }

    #[test]
    fn partitioners_spread() {
        let rr = SpreadPartitioner {
            mode: Partitioning::RoundRobin { group_events: 2 },
            count: AtomicU64::new(0),
            current: AtomicUsize::new(0),
        };
        let seq: Vec<i32> = (0..8)
            .map(|_| rr.partition("t", None, 3, |_| true))
            .collect();
        for pair in seq.chunks(2) {
            assert_eq!(pair[0], pair[1]);
        }
        assert_eq!((seq[2] - seq[0]).rem_euclid(3), 1);
        assert_eq!((seq[4] - seq[2]).rem_euclid(3), 1);
        let random = SpreadPartitioner {
            mode: Partitioning::Random { group_events: 1 },
            count: AtomicU64::new(0),
            current: AtomicUsize::new(0),
        };
        let mut seen = [0; 3];
        for _ in 0..300 {
            seen[random.partition("t", None, 3, |_| true) as usize] += 1;
        }
        assert!(seen.iter().all(|n| *n > 50), "{seen:?}");
    }

    #[test]
    fn too_large_records_fail_at_once_and_are_counted() {
        let sink = KafkaSink::start(SinkConfig {
            hosts: vec!["127.0.0.1:1".into()],
            max_message_bytes: 1000,
            ..SinkConfig::default()
        })
        .unwrap();
        sink.send(Record {
            topic: "t".into(),
            payload: vec![b'x'; 5000],
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while sink.stats().failed == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let s = sink.shutdown(Duration::from_millis(100));
        assert_eq!(
            (s.failed, s.sent, s.dropped, s.retried),
            (1, 0, 0, 0),
            "{s:?}"
        );
    }

    #[test]
    fn the_bytes_handed_over_stay_within_the_bound() {
        assert!(batch_bound(0, 0, 5_000, 1_000), "one event always goes");
        assert!(batch_bound(1, 500, 400, 1_000));
        assert!(
            !batch_bound(1, 500, 500, 1_000),
            "500 + 500 + a batch header > 1000"
        );
        assert!(batch_bound(3, 10, 10, usize::MAX));
    }

    #[test]
    fn a_refused_batch_lowers_the_bound_once_and_its_events_go_back() {
        let sink = sink_with_dead_brokers(100);
        let shared = sink.shared.clone();
        sink.shutdown(Duration::from_millis(100));
        shared.closing.store(false, Ordering::Relaxed);
        {
            let mut q = shared.lock();
            q.bound = usize::MAX;
            for i in 0..10 {
                q.waiting.push_back(Record {
                    topic: "t".into(),
                    payload: vec![b'x'; 100 + i],
                });
            }
        }
        let held = take_batch(&shared, 256);
        assert_eq!(held.len(), 10);
        let refused = KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
        for h in held {
            shared.returned(h, &refused);
        }
        let q = shared.lock();
        // 10 events of 100-109 bytes plus 21 of framing each: 1,255 bytes were in flight.
        assert_eq!(q.bound, 1_255 / 2);
        assert_eq!(q.waiting.len(), 10, "every event is queued again");
        assert_eq!(q.in_flight_bytes, 0);
        drop(q);
        assert_eq!(shared.failed.load(Ordering::Relaxed), 0);
        let next = take_batch(&shared, 256);
        let bytes: usize = next.iter().map(|h| batch_bytes(&h.record)).sum();
        assert!(bytes + 61 <= 1_255 / 2, "{bytes}");
        // An event refused when it went alone is too large for the topic.
        let mut lone = next.into_iter().next().unwrap();
        lone.alone = true;
        shared.returned(lone, &refused);
        assert_eq!(shared.failed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn refused_access_and_corrupt_messages_keep_the_event() {
        let sink = sink_with_dead_brokers(100);
        let shared = sink.shared.clone();
        sink.shutdown(Duration::from_millis(100));
        shared.closing.store(false, Ordering::Relaxed);
        shared.lock().bound = usize::MAX;
        for i in 0..2 {
            shared.lock().waiting.push_back(record(i));
        }
        let mut held = take_batch(&shared, 256).into_iter();
        let corrupt = KafkaError::MessageProduction(RDKafkaErrorCode::InvalidMessage);
        shared.returned(held.next().unwrap(), &corrupt);
        assert!(
            may_hand_over(&shared.lock()),
            "a corrupt message is retried at once"
        );
        let denied = KafkaError::MessageProduction(RDKafkaErrorCode::TopicAuthorizationFailed);
        shared.returned(held.next().unwrap(), &denied);
        assert_eq!(shared.failed.load(Ordering::Relaxed), 0);
        assert_eq!(shared.retried.load(Ordering::Relaxed), 2);
        assert_eq!(shared.lock().waiting.len(), 2, "both events are kept");
        assert!(
            take_batch(&shared, 256).is_empty(),
            "nothing is handed over right after an access refusal"
        );
        std::thread::sleep(ACCESS_RETRY + Duration::from_millis(50));
        assert_eq!(
            take_batch(&shared, 256).len(),
            2,
            "tried again after the wait"
        );
    }

    #[test]
    fn no_hosts_is_an_error() {
        let err = KafkaSink::start(SinkConfig::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("output.kafka.hosts"), "{err}");
    }
}
