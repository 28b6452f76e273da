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
//!   the brokers (DescribeConfigs with one admin client kept for the purpose, at start and
//!   every [`LIMITS_REFRESH`], waiting longer while brokers do not answer), halved each time
//!   a batch is refused anyway. An event refused as too large goes back to the queue unless
//!   it went alone: only then is it failed (too large for the topic).
//! - **Access refusals keep the events:** an event refused for a missing ACL
//!   (`TOPIC_AUTHORIZATION_FAILED`) or refused credentials goes back to the queue, and
//!   nothing is handed over for [`ACCESS_RETRY`]; once the ACL is granted delivery resumes.
//!   The wait is bounded by the drop-oldest queue, like an outage. One ERROR line per 30 s
//!   names the topic and the ACL to grant. (Metricbeat retries such events `max_retries`
//!   times, 3 by default, then drops them.) A `CORRUPT_MESSAGE` answer is retried too.
//! - Acknowledgements are served by the delivery thread, which wakes for a new event, and
//!   otherwise once a second while only acknowledgements are awaited: `in_flight` (and the
//!   queue depth gauge) may count an event for up to a second after Kafka acknowledged it.
//! - Failed deliveries are logged with counts, one line per cause per 10 s.
//! - Counters are also published with the `metrics` crate:
//!   `metricpipe_agent_events_sent_total`, `metricpipe_agent_events_dropped_total`,
//!   `metricpipe_agent_events_failed_total`, `metricpipe_agent_events_retried_total`,
//!   `metricpipe_agent_queue_depth`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use metricpipe_kafka::{ClientRole, ClientSettings};
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;

mod delivery;
mod limits;
mod queue;

use delivery::{deliver, Producer_, SinkContext, SpreadPartitioner};
use limits::spawn_limits_reader;
pub use queue::{batch_bound, ACCESS_RETRY, LIMITS_REFRESH};
use queue::{Queue, Shared};

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
    /// The metricset the event came from (`cpu`, `memory`): the `metricset` label of the
    /// sent, dropped, failed and retried counters.
    pub metricset: &'static str,
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

/// The producer's properties: the [`SinkConfig`] as librdkafka properties, then the
/// operator's [`SinkConfig::properties`] over them (role producer).
fn producer_config(config: &SinkConfig, max_in_flight: usize) -> ClientConfig {
    let mut ours = vec![
        ("acks", config.required_acks.to_string()),
        ("compression.type", config.compression.clone()),
        ("client.id", config.client_id.clone()),
        ("message.max.bytes", config.max_message_bytes.to_string()),
        (
            "message.timeout.ms",
            config.message_timeout.as_millis().to_string(),
        ),
        // Our partitioner must see unkeyed records, and our queue holds the backlog.
        ("sticky.partitioning.linger.ms", "0".into()),
        (
            "queue.buffering.max.messages",
            (max_in_flight * 2).max(16).to_string(),
        ),
        // Idempotence would turn a long outage into a fatal error; Metricbeat has none either.
        ("enable.idempotence", "false".into()),
    ];
    if let Some(level) = config.compression_level {
        ours.push(("compression.level", level.to_string()));
    }
    ClientSettings::new(config.hosts.join(","))
        .layer(config.properties.iter().cloned())
        .client_config(ClientRole::Producer, ours)
}

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
            failures: Mutex::new(metricpipe_kafka::tally::FailureTally::new(
                Duration::from_secs(10),
            )),
            topics: Mutex::new(Vec::new()),
            limits_stale: AtomicBool::new(true),
            served: AtomicU64::new(0),
        });
        {
            let mut q = shared.lock();
            q.bound = usize::MAX;
            q.limit_bound = usize::MAX;
        }
        let cc = producer_config(&config, max_in_flight);
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
            if let Some(oldest) = q.waiting.pop_front() {
                shared.count_dropped(oldest.metricset, 1);
            } else {
                // Everything held is in librdkafka's hands: the new record is the one to go.
                shared.count_dropped(record.metricset, 1);
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

#[cfg(test)]
mod tests;
