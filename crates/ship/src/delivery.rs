//! The producer side: the partitioner, librdkafka's delivery reports, the delivery thread
//! that hands queued events over.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Partitioner, Producer, ProducerContext,
};
use rdkafka::ClientContext;

use crate::queue::{batch_bound, batch_bytes, may_hand_over, Held, Shared};
use crate::Partitioning;

pub(crate) struct SpreadPartitioner {
    pub(crate) mode: Partitioning,
    pub(crate) count: AtomicU64,
    pub(crate) current: AtomicUsize,
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

pub(crate) struct SinkContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) partitioner: SpreadPartitioner,
}

impl ClientContext for SinkContext {
    /// As rust-rdkafka's default (the same levels), and counted as served: log lines reach
    /// this client through the same queue as delivery reports ([`serve_reports`]).
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        self.shared.served.fetch_add(1, Ordering::Relaxed);
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", "librdkafka: {fac} {message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", "librdkafka: {fac} {message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", "librdkafka: {fac} {message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(target: "librdkafka", "librdkafka: {fac} {message}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.shared.served.fetch_add(1, Ordering::Relaxed);
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
        self.shared.served.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(_) => {
                self.shared.sent.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(metricpipe_telemetry::catalog::AGENT_EVENTS_SENT_TOTAL, "metricset" => held.record.metricset)
                    .increment(1);
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

pub(crate) type Producer_ = BaseProducer<SinkContext, SpreadPartitioner>;

/// The delivery thread: hand waiting records to librdkafka while fewer than `max_in_flight`
/// are out, serve delivery reports, and sleep when there is nothing to do.
///
/// It never blocks in rust-rdkafka's `poll(t)`: that call spins through the last
/// millisecond of every wait (docs/PERFORMANCE.md), which, with events held while the
/// brokers are down, was most of the agent's CPU. It sleeps on the queue's condition
/// variable instead, which a new event and the shutdown wake, and then serves what
/// librdkafka has queued without waiting ([`serve_reports`]).
pub(crate) fn deliver(
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
                pause(&shared, Duration::from_millis(100), false);
                serve_reports(&producer, &shared);
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
        if holding {
            // Waiting out an access refusal: new events wait with the others.
            pause(&shared, Duration::from_millis(100), false);
        } else if in_flight > 0 && waiting > 0 {
            // Held back by the byte bound (or the count): each acknowledgement makes room,
            // so look again soon.
            let step = if in_flight < max_in_flight { 10 } else { 100 };
            pause(&shared, Duration::from_millis(step), false);
        } else if in_flight > 0 {
            // Only acknowledgements are awaited: serving them late costs nothing but a
            // late count, and a new event or the shutdown ends the wait. While the brokers
            // are down this is the loop's only work, so it wakes seldom; a flush looks often.
            let step = if deadline.is_some() { 10 } else { 1000 };
            pause(&shared, Duration::from_millis(step), true);
        } else if waiting == 0 && deadline.is_none() {
            pause(&shared, Duration::from_secs(1), true);
        }
        serve_reports(&producer, &shared);
    }
    // Whatever is still held after the deadline is lost: count it.
    shared.closing.store(true, Ordering::Relaxed);
    producer.purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
    producer.poll(Duration::from_millis(500));
    let mut q = shared.lock();
    let left = q.waiting.len() as u64;
    for record in q.waiting.drain(..) {
        shared.count_dropped(record.metricset, 1);
    }
    let lost = left + q.in_flight as u64;
    if lost > 0 {
        tracing::warn!(
            events = lost,
            "shutting down with undelivered events; they are dropped"
        );
    }
    if q.in_flight > 0 {
        // Reports that never came back: count them too, so the totals add up. Their records
        // are librdkafka's, so their metricset is not known here.
        shared.count_dropped("unknown", q.in_flight as u64);
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

/// Sleeps up to `length`. With `until_sent`, a new event (or the shutdown) ends the sleep
/// early, and there is no sleep at all when events are already waiting.
fn pause(shared: &Shared, length: Duration, until_sent: bool) {
    let q = shared.lock();
    if until_sent && !q.waiting.is_empty() {
        return;
    }
    // An early wake-up only means one more turn of the loop.
    let _unused = shared.wake.wait_timeout(q, length).map(|(q, _)| drop(q));
}

/// Serves what librdkafka has queued for this client (delivery reports, errors, log
/// lines) without waiting: `poll(0)` serves at most one event, so it is called until one
/// serves nothing. Every event kind the client receives is counted in `served` by its
/// callback, or the loop would stop early and events would pile up in librdkafka.
fn serve_reports(producer: &Producer_, shared: &Shared) {
    metricpipe_kafka::access::serve_until_idle(
        || producer.poll(Duration::ZERO),
        || shared.served.load(Ordering::Relaxed),
    );
}

/// Takes the waiting events that may go to librdkafka now: fewer than `max_in_flight`
/// held there, and their bytes within the bound ([`batch_bound`]).
pub(crate) fn take_batch(shared: &Shared, max_in_flight: usize) -> Vec<Held> {
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

/// Hands one event to librdkafka; false when it refused it at once (the event is then
/// requeued or failed, as its error says).
pub(crate) fn hand_over(producer: &Producer_, shared: &Shared, held: Held) -> bool {
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
