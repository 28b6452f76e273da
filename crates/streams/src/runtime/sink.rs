//! The sink side of the runtime: the producer and the dead-letter path together, with
//! what both the run loop and the revoke callback need (failed deliveries, drains).

use std::time::{Duration, Instant};

use metricpipe_kafka::{classify, ErrorClass};
use tracing::warn;

use super::dlq::{refused_headers, DeadLetters};
use super::lock;
use super::producer::{Outputs, Sent};

pub struct Sink {
    pub out: Outputs,
    pub dlq: DeadLetters,
    /// The longest a revoke waits for in-flight outputs.
    pub drain_timeout: Duration,
}

impl Sink {
    /// Deals with deliveries that failed after librdkafka's retries: sent again when
    /// retriable, dead-lettered (or counted) when the brokers will never take them.
    pub fn handle_failed(&self) {
        let failed = std::mem::take(&mut *lock(&self.out.shared.failed));
        for f in failed {
            if classify(&f.error) != ErrorClass::Permanent {
                if let Some(suppressed) = self.out.shared.delivery_trouble.check() {
                    warn!(topic = %f.topic, error = %f.error, suppressed, "delivery failed; sending again");
                }
                if let Sent::Refused(_) = self.out.send(&f.topic, &f.payload, f.headers, f.token) {
                    lock(&self.out.shared.tracker).ack(f.token);
                }
                continue;
            }
            metrics::counter!("metricpipe_streams_bad_records_total", "reason" => "refused-by-broker")
                .increment(1);
            warn!(topic = %f.topic, error = %f.error, bytes = f.payload.len(), "the brokers refused an output record");
            let is_dlq = self.dlq.topic.as_deref() == Some(f.topic.as_str());
            let moved = !is_dlq
                && self.dlq.send(
                    &self.out,
                    &f.payload,
                    refused_headers(&f.error.to_string(), &f.topic),
                    f.token,
                );
            if !moved {
                lock(&self.out.shared.tracker).ack(f.token);
            }
        }
    }

    /// Waits until every output handed to the producer is acknowledged or given up on,
    /// or until `deadline`. Returns whether everything was acknowledged.
    pub fn drain(&self, deadline: Instant) -> bool {
        loop {
            let step = (Instant::now() + Duration::from_millis(200)).min(deadline);
            self.out.wait_for_acks(step);
            self.handle_failed();
            if self.out.in_flight() == 0 && !self.out.has_failed() {
                return true;
            }
            if Instant::now() >= deadline {
                warn!(
                    in_flight = self.out.in_flight(),
                    "outputs still in flight at the deadline; committing only what was acknowledged"
                );
                return false;
            }
        }
    }
}
