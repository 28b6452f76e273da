//! The producer: hands outputs to librdkafka, serves delivery reports into the offset
//! tracker, and drains.
//!
//! Not rust-rdkafka's `flush(t)` nor `poll(1 ms)`: its `poll(t)` rounds the time left down
//! to whole milliseconds and spins through the last one, and its flush waits in 100 ms
//! steps (docs/PERFORMANCE.md). Waiting here is a 1 ms sleep between zero-time polls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metricpipe_kafka::{classify, ErrorClass};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use tracing::warn;

use super::offsets::DeliveryToken;
use super::shared::{Failed, Shared};

pub struct ProducerCtx(pub Arc<Shared>);

impl ClientContext for ProducerCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.0.client_log(level, fac, log_message);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        self.0.client_error("producer", &error, reason);
    }
}

impl ProducerContext for ProducerCtx {
    type DeliveryOpaque = DeliveryToken;

    fn delivery(&self, result: &DeliveryResult<'_>, token: DeliveryToken) {
        match result {
            Ok(_) => self.0.state().tracker.ack(token),
            Err((error, msg)) => self.0.state().failed.push(Failed {
                topic: msg.topic().to_string(),
                payload: msg.payload().unwrap_or_default().to_vec(),
                headers: msg.headers().map(|h| h.detach()),
                opaque: token,
                error: error.clone(),
            }),
        }
    }
}

pub enum Sent {
    Queued,
    /// The producer will never take this record (e.g. larger than `message.max.bytes`).
    Refused(KafkaError),
    /// Shutdown was asked, or the producer failed for good, while waiting for room.
    Abandoned,
}

/// What the runtime needs of a producer for its outputs: hand one over with its delivery
/// token, serve the delivery reports (which acknowledge tokens in the offset tracker or
/// queue failed deliveries), wait for acknowledgements. The rdkafka producer is
/// [`KafkaOutputs`]; tests script a fake.
pub trait Outputs {
    /// Hands one record to the producer; the token's slot already counts it.
    fn send(
        &self,
        topic: &str,
        payload: &[u8],
        headers: Option<OwnedHeaders>,
        token: DeliveryToken,
    ) -> Sent;
    /// Serves every delivery report ready now; whether there was any.
    fn serve_delivery_reports(&self) -> bool;
    /// Waits until `deadline` for every output handed over to be acknowledged (or failed)
    /// and its report served; whether that happened.
    fn wait_for_acks(&self, deadline: Instant) -> bool;
    /// Outputs handed over whose reports are not served yet.
    fn in_flight(&self) -> i32;
}

/// The runtime's producer: rdkafka's, transactional under exactly_once_v2.
pub struct KafkaOutputs {
    pub shared: Arc<Shared>,
    pub producer: BaseProducer<ProducerCtx>,
    /// A transactional producer (exactly_once_v2).
    pub transactional: bool,
    /// An output was abandoned since this was last cleared: under exactly-once the open
    /// transaction must then abort, as its offsets would pass the abandoned record.
    pub abandoned: AtomicBool,
}

/// How long an output of a transaction waits for room in the producer's queue.
const TXN_QUEUE_WAIT: Duration = Duration::from_secs(10);

fn pause() {
    std::thread::sleep(Duration::from_millis(1));
}

impl Outputs for KafkaOutputs {
    /// Hands one record to librdkafka, waiting (and serving delivery reports) while its
    /// queue is full. The token's slot already counts it.
    fn send(
        &self,
        topic: &str,
        payload: &[u8],
        headers: Option<OwnedHeaders>,
        token: DeliveryToken,
    ) -> Sent {
        // The open transaction aborts anyway: don't wait for room again per record.
        if self.transactional && self.abandoned.load(Ordering::Relaxed) {
            return Sent::Abandoned;
        }
        let sent = self.send_once(topic, payload, headers, token);
        if let Sent::Abandoned = sent {
            self.abandoned.store(true, Ordering::Relaxed);
        }
        sent
    }

    /// Serves every queued delivery report without waiting: `poll(ZERO)` serves one event
    /// (one batch's reports), and the in-flight count includes reports not yet served.
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

    /// Sends what lingers and waits until `deadline` for every output handed to the
    /// producer to be acknowledged and its report served. Returns whether that happened.
    fn wait_for_acks(&self, deadline: Instant) -> bool {
        // With a zero timeout this returns at once; it wakes the broker threads with
        // librdkafka's flush flag raised, which may send lingering batches early.
        let _ = self.producer.flush(Duration::ZERO);
        loop {
            Outputs::serve_delivery_reports(self);
            if self.producer.in_flight_count() == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            pause();
        }
    }

    fn in_flight(&self) -> i32 {
        self.producer.in_flight_count()
    }
}

impl KafkaOutputs {
    fn send_once(
        &self,
        topic: &str,
        payload: &[u8],
        headers: Option<OwnedHeaders>,
        token: DeliveryToken,
    ) -> Sent {
        let mut record = BaseRecord::with_opaque_to(topic, token).payload(payload);
        let mut full_since: Option<Instant> = None;
        if let Some(h) = headers {
            record = record.headers(h);
        }
        loop {
            let Err((e, back)) = self.producer.send::<(), [u8]>(record) else {
                return Sent::Queued;
            };
            if classify(&e) == ErrorClass::Permanent {
                return Sent::Refused(e);
            }
            // No transaction can take it now (it failed and awaits its abort).
            if self.transactional && e.rdkafka_error_code() == Some(RDKafkaErrorCode::State) {
                return Sent::Abandoned;
            }
            if let Some((code, reason)) = self.producer.client().fatal_error() {
                // An idempotent producer that hit a fatal error never recovers.
                self.shared.fatal("producer", code, &reason);
                return Sent::Abandoned;
            }
            if !matches!(e.rdkafka_error_code(), Some(RDKafkaErrorCode::QueueFull)) {
                if let Some(suppressed) = self.shared.delivery_trouble.check() {
                    warn!(topic, error = %e, suppressed, "producing failed; retrying");
                }
            }
            // Records abandoned at shutdown stay uncommitted: processed again later.
            if self.shared.stop.requested() {
                return Sent::Abandoned;
            }
            // A transaction whose queue does not drain (its coordinator or a leader is
            // away) is aborted and its input processed again, rather than waited for here
            // where no commit, abort or rebalance can happen.
            let waited = *full_since.get_or_insert_with(Instant::now);
            if self.transactional && waited.elapsed() >= TXN_QUEUE_WAIT {
                warn!(topic, waited = ?waited.elapsed(), "the transaction's queue stays full; aborting it");
                return Sent::Abandoned;
            }
            record = back;
            if !self.serve_delivery_reports() {
                pause();
            }
        }
    }

    pub fn has_failed(&self) -> bool {
        !self.shared.state().failed.is_empty()
    }
}
