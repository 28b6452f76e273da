//! The bounded queue in front of librdkafka and the sink's counts: what is waiting, what
//! is in flight, and what happens to an event librdkafka hands back.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::Record;

#[derive(Default)]
pub(crate) struct Queue {
    pub(crate) waiting: VecDeque<Record>,
    pub(crate) in_flight: usize,
    /// Bytes handed to librdkafka, as a batch counts them (value plus record framing).
    pub(crate) in_flight_bytes: usize,
    /// The most bytes handed over at once; `usize::MAX` until a limit is known.
    pub(crate) bound: usize,
    /// Bumped when a refusal lowers `bound`, so a refused batch lowers it once.
    pub(crate) bound_generation: u64,
    /// The bound the topics' limits allow; `bound` returns to it at each refresh.
    pub(crate) limit_bound: usize,
    /// After an access refusal (a missing ACL), nothing is handed over before this: the
    /// events wait in the queue instead of bouncing off the broker.
    pub(crate) hold_until: Option<Instant>,
}

/// How long the sink waits after an access refusal before it tries again (Metricbeat's
/// `backoff.init`).
pub const ACCESS_RETRY: Duration = Duration::from_secs(1);

/// How often the topics' `max.message.bytes` are read again. A refusal has them read again
/// within seconds, so this only bounds how long a raised limit goes unused; each read
/// starts an admin client, which with every broker down costs a fraction of a CPU-second.
pub const LIMITS_REFRESH: Duration = Duration::from_secs(600);

/// Bytes a record takes in a batch, uncompressed: value plus record framing (at most 21
/// bytes without key or headers).
pub(crate) fn batch_bytes(record: &Record) -> usize {
    record.payload.len() + 21
}

/// An event handed to librdkafka, with what a refusal needs to know.
pub(crate) struct Held {
    pub(crate) record: Record,
    /// `bound_generation` when it was handed over.
    pub(crate) generation: u64,
    /// Nothing else could share its batch: nothing was in flight and it fills the bound.
    pub(crate) alone: bool,
}

/// Whether one more record of `bytes` may be handed to librdkafka: always when nothing is
/// in flight, else while the bytes in flight stay within `bound` (a batch, 61 bytes of
/// header plus its records, can then never be larger than `bound` + 61).
pub fn batch_bound(in_flight: usize, in_flight_bytes: usize, bytes: usize, bound: usize) -> bool {
    in_flight == 0 || in_flight_bytes.saturating_add(bytes).saturating_add(61) <= bound
}

pub(crate) struct Shared {
    pub(crate) queue: Mutex<Queue>,
    pub(crate) wake: Condvar,
    pub(crate) capacity: usize,
    pub(crate) closing: AtomicBool,
    pub(crate) sent: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) failures: Mutex<metricpipe_kafka::tally::FailureTally>,
    /// Topics written to, for the limits refresh.
    pub(crate) topics: Mutex<Vec<String>>,
    /// Set by a size refusal: read the limits again soon.
    pub(crate) limits_stale: AtomicBool,
    /// Delivery reports and client errors served so far: tells the delivery thread when
    /// librdkafka's queue has nothing more for it.
    pub(crate) served: AtomicU64,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic elsewhere must not stop delivery: the queue stays consistent under the lock.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn publish_depth(&self, q: &Queue) {
        metrics::gauge!(metricpipe_telemetry::catalog::AGENT_QUEUE_DEPTH)
            .set((q.waiting.len() + q.in_flight) as f64);
    }

    pub(crate) fn count_dropped(&self, metricset: &'static str, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        metrics::counter!(metricpipe_telemetry::catalog::AGENT_EVENTS_DROPPED_TOTAL, "metricset" => metricset)
            .increment(n);
    }

    pub(crate) fn count_failed(&self, metricset: &'static str) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(metricpipe_telemetry::catalog::AGENT_EVENTS_FAILED_TOTAL, "metricset" => metricset)
            .increment(1);
    }

    pub(crate) fn count_retried(&self, metricset: &'static str) {
        self.retried.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(metricpipe_telemetry::catalog::AGENT_EVENTS_RETRIED_TOTAL, "metricset" => metricset)
            .increment(1);
    }

    pub(crate) fn tally(&self, outcome: &'static str, error: &KafkaError, topic: &str) {
        let code = format!("{:?}", error.rdkafka_error_code());
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .count(outcome, &code, &error.to_string(), topic);
    }

    /// Events taken for librdkafka but not handed over: back to the front, in order.
    pub(crate) fn give_back(&self, held: Vec<Held>) {
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
    pub(crate) fn returned(&self, held: Held, error: &KafkaError) {
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
            self.count_dropped(record.metricset, 1);
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
            self.count_retried(record.metricset);
            q.waiting.push_front(record);
        } else if is_access_refusal(error) {
            // A missing ACL or refused credentials: the event goes through once an operator
            // fixes them. Keep it (bounded by the drop-oldest queue) and try again later.
            self.tally("not-authorized", error, &record.topic);
            if metricpipe_kafka::access::log_refusal_now() {
                tracing::error!(topic = %record.topic, %error, "{}; the events wait in the queue and are retried every {ACCESS_RETRY:?} (one line per 30 s)",
                    refusal_message(error, &record.topic));
            }
            self.count_retried(record.metricset);
            q.hold_until = Some(Instant::now() + ACCESS_RETRY);
            q.waiting.push_front(record);
        } else if is_retryable(error) {
            self.tally("retried", error, &record.topic);
            self.count_retried(record.metricset);
            q.waiting.push_front(record);
        } else {
            let outcome = if size_refusal { "too-large" } else { "failed" };
            self.tally(outcome, error, &record.topic);
            self.count_failed(record.metricset);
        }
        self.publish_depth(&q);
    }
}

/// Errors that mean "not now" rather than "never": the record goes back to the queue.
/// The classes come from metricpipe-kafka's one table.
pub(crate) fn is_retryable(error: &KafkaError) -> bool {
    metricpipe_kafka::classify(error) == metricpipe_kafka::ErrorClass::Retriable
}

pub(crate) fn is_access_refusal(error: &KafkaError) -> bool {
    error
        .rdkafka_error_code()
        .is_some_and(metricpipe_kafka::is_access_refusal)
}

/// The operator's line for an access refusal: the topic's ACL, or the credentials.
pub(crate) fn refusal_message(error: &KafkaError, topic: &str) -> String {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::TopicAuthorizationFailed) => {
            metricpipe_kafka::access::not_authorized_message(topic)
        }
        _ => metricpipe_kafka::access::security_cause(&error.to_string())
            .unwrap_or_else(|| format!("the brokers refuse this client: {error}")),
    }
}

/// Whether events may be handed over now (not holding back after an access refusal).
pub(crate) fn may_hand_over(q: &Queue) -> bool {
    q.hold_until.is_none_or(|t| Instant::now() >= t)
}
