//! The sink side of the runtime: the producer and the dead-letter path together, with
//! what both the run loop and the revoke callback need (failed deliveries, drains).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use metricpipe_kafka::tally::FailureTally;
use metricpipe_kafka::{classify, ErrorClass};
use metricpipe_telemetry::BadRecordReason;
use rdkafka::message::OwnedHeaders;
use tracing::warn;

use super::commit::{CommitKind, CommitOutcome, Committer, GroupConsumer};
use super::dlq::{refused_headers, DeadLetters};
use super::lock;
use super::offsets::DeliveryToken;
use super::producer::{KafkaOutputs, Outputs, Sent};
use super::shared::Failed;
use crate::oversize::{self, SizeLimits};

pub struct Sink {
    out: KafkaOutputs,
    dlq: DeadLetters,
    /// The longest a revoke waits for in-flight outputs.
    drain_timeout: Duration,
    /// Output topics' size limits, for refused batches (crate::oversize).
    limits: Mutex<SizeLimits>,
    /// Failed deliveries, logged with counts once per interval.
    failures: Mutex<FailureTally>,
    /// Consumer commits under at-least-once, transactions under exactly_once_v2.
    committer: Box<dyn Committer>,
}

impl Sink {
    /// `drain_timeout`: the longest a revoke waits for in-flight outputs; `limits`: the
    /// output topics' size limits (crate::oversize).
    pub fn new(
        out: KafkaOutputs,
        dlq: DeadLetters,
        drain_timeout: Duration,
        limits: SizeLimits,
        committer: Box<dyn Committer>,
    ) -> Self {
        Sink {
            out,
            dlq,
            drain_timeout,
            limits: Mutex::new(limits),
            failures: Mutex::new(FailureTally::new(Duration::from_secs(10))),
            committer,
        }
    }

    /// The longest a revoke waits for in-flight outputs.
    pub fn drain_timeout(&self) -> Duration {
        self.drain_timeout
    }

    /// Hands one output to the producer, tracked by `token`.
    pub fn send(&self, topic: &str, payload: &[u8], token: DeliveryToken) -> Sent {
        self.out.send(topic, payload, None, token)
    }

    /// Whether rejected records go to a dead-letter topic.
    pub fn dead_letters_enabled(&self) -> bool {
        self.dlq.enabled()
    }

    /// Sends a rejected record to the dead-letter topic; `false` when it was not sent
    /// (no topic, or the producer refused it), so the caller acknowledges `token` itself.
    pub fn dead_letter(&self, value: &[u8], headers: OwnedHeaders, token: DeliveryToken) -> bool {
        self.dlq.send(&self.out, value, headers, token)
    }

    /// Serves the producer's delivery reports, then deals with the deliveries that failed.
    pub fn serve_delivery_reports(&self) {
        self.out.serve_delivery_reports();
        if self.out.has_failed() {
            self.handle_failed();
        }
    }

    /// The one place commits go through: the consumer's offsets under at-least-once
    /// (`only`: those partitions), the open transaction under exactly_once_v2 (every
    /// partition it processed). An aborted transaction gives the offsets to rewind to.
    pub fn commit(
        &self,
        consumer: &dyn GroupConsumer,
        kind: CommitKind,
        only: Option<&[(String, i32)]>,
    ) -> CommitOutcome {
        self.committer
            .commit(&self.out, consumer, kind, only, &|| self.handle_failed())
    }

    /// Deals with deliveries that failed after librdkafka's retries: retriable ones are
    /// sent again, batches refused as too large are split and sent again
    /// (crate::oversize), the rest are dead-lettered (or counted). Logged with counts,
    /// once per cause per interval.
    pub fn handle_failed(&self) {
        let failed = std::mem::take(&mut self.out.shared.state().failed);
        if self.committer.transactional() {
            return self.fail_transaction(failed);
        }
        let mut oversized = Vec::new();
        for f in failed {
            if self.refused_access(&f.topic, &f.error) {
                // Kept unacknowledged: the commit point stays before it.
                self.count_failure("not-authorized", &f);
            } else if oversize::is_size_refusal(&f.error) && !self.is_dlq(&f) {
                self.count_failure("split-and-resent", &f);
                oversized.push(f);
            } else if classify(&f.error) != ErrorClass::Permanent {
                self.count_failure("retried", &f);
                if let Sent::Refused(_) = self.out.send(&f.topic, &f.payload, f.headers, f.opaque) {
                    self.out.shared.state().tracker.ack(f.opaque);
                }
            } else {
                self.count_failure(BadRecordReason::RefusedByBroker.as_str(), &f);
                self.dead_letter_refused(f, BadRecordReason::RefusedByBroker.as_str());
            }
        }
        if !oversized.is_empty() {
            let mut limits = lock(&self.limits);
            oversize::split_and_resend(self, &mut limits, oversized, |f| {
                self.count_failure(BadRecordReason::TooLarge.as_str(), &f);
                self.dead_letter_refused(f, BadRecordReason::TooLarge.as_str());
            });
        }
        self.log_failures(false);
    }

    /// Under exactly-once, a timed-out commit or abort must be resumed before any record
    /// is processed.
    pub fn commit_blocked(&self) -> bool {
        self.committer.blocked()
    }

    /// A commit before partitions go (revoke, shutdown). Under exactly-once the open
    /// transaction must not outlive them: one that could not commit is aborted, and at a
    /// revoke one that could not be aborted either stops the run (its outputs could
    /// otherwise be committed later without their offsets: duplicates).
    pub fn commit_before_leaving(
        &self,
        consumer: &dyn GroupConsumer,
        kind: CommitKind,
        only: Option<&[(String, i32)]>,
    ) -> CommitOutcome {
        let mut outcome = self.commit(consumer, kind, only);
        let txn = &self.committer;
        if !txn.transactional() {
            return outcome;
        }
        // A commit that timed out can only be resumed (librdkafka refuses an abort
        // meanwhile): keep resuming it for as long as a drain may take.
        let deadline = Instant::now() + self.drain_timeout;
        while outcome == CommitOutcome::Failed
            && txn.blocked()
            && !self.out.shared.is_fatal()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
            outcome = self.commit(consumer, kind, only);
        }
        if outcome != CommitOutcome::Failed || self.out.shared.is_fatal() {
            return outcome;
        }
        let aborted = txn.abort(&self.out);
        if aborted == CommitOutcome::Failed && kind == CommitKind::Revoke {
            self.out.shared.fatal(
                "transactional producer",
                rdkafka::error::RDKafkaErrorCode::Fail,
                "the transaction could be neither committed nor aborted before giving partitions up",
            );
        }
        aborted
    }

    /// Under exactly-once a failed delivery fails its whole transaction: nothing is sent
    /// again here; the transaction aborts at its commit and its input is processed again.
    fn fail_transaction(&self, failed: Vec<Failed>) {
        let Some(first) = failed.first() else {
            return;
        };
        let refused = failed.iter().any(|f| {
            classify(&f.error) == ErrorClass::Permanent || oversize::is_size_refusal(&f.error)
        });
        let cause = format!("delivering to {} failed: {}", first.topic, first.error);
        self.committer.poison(cause, refused);
        for f in &failed {
            self.count_failure("transaction-aborted", f);
        }
        self.log_failures(false);
    }

    /// A missing ACL (or refused credentials) on an output: fatal for the run, as in Kafka
    /// Streams (`RecordCollectorImpl`: an `AuthorizationException` kills the stream
    /// thread). The record is neither dead-lettered nor acknowledged, so no commit passes
    /// it; after the ACL is granted a restart processes it again and nothing is lost.
    /// Returns whether `error` was such a refusal.
    pub fn refused_access(&self, topic: &str, error: &rdkafka::error::KafkaError) -> bool {
        let Some(code) = error
            .rdkafka_error_code()
            .filter(|&c| metricpipe_kafka::is_access_refusal(c))
        else {
            return false;
        };
        let cause = match code {
            rdkafka::error::RDKafkaErrorCode::TopicAuthorizationFailed => {
                metricpipe_kafka::access::not_authorized_message(topic)
            }
            _ => format!("the brokers refuse this client writing to {topic}: {error}"),
        };
        self.out.shared.fatal(
            "producer",
            code,
            &format!(
                "{cause}. Nothing past the refused records is committed: restart after fixing it"
            ),
        );
        true
    }

    /// Logs the failed-delivery counts when their interval is up (`force`: now).
    pub fn log_failures(&self, force: bool) {
        lock(&self.failures).log_due("streams", force);
    }

    fn is_dlq(&self, f: &Failed) -> bool {
        self.dlq.topic.as_deref() == Some(f.topic.as_str())
    }

    fn count_failure(&self, outcome: &'static str, f: &Failed) {
        if !matches!(
            outcome,
            "split-and-resent" | "retried" | "not-authorized" | "transaction-aborted"
        ) {
            metrics::counter!(metricpipe_telemetry::catalog::STREAMS_BAD_RECORDS_TOTAL, "reason" => outcome)
                .increment(1);
        }
        metrics::counter!(metricpipe_telemetry::catalog::STREAMS_DELIVERY_FAILURES_TOTAL, "outcome" => outcome)
            .increment(1);
        let code = format!("{:?}", f.error.rdkafka_error_code());
        lock(&self.failures).count(outcome, &code, &f.error.to_string(), &f.topic);
    }

    /// A record the brokers will never take: to the dead-letter topic, with the reason.
    fn dead_letter_refused(&self, f: Failed, reason: &str) {
        let moved = !self.is_dlq(&f)
            && self.dlq.send(
                &self.out,
                &f.payload,
                refused_headers(reason, &f.error.to_string(), &f.topic),
                f.opaque,
            );
        if !moved {
            self.out.shared.state().tracker.ack(f.opaque);
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
                self.log_failures(true);
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

impl oversize::Resend<DeliveryToken> for Sink {
    fn resend(&self, f: Failed) -> Option<Failed> {
        match self
            .out
            .send(&f.topic, &f.payload, f.headers.clone(), f.opaque)
        {
            // Abandoned at shutdown: left uncommitted, so processed again after a restart.
            Sent::Queued | Sent::Abandoned => None,
            Sent::Refused(error) => Some(Failed { error, ..f }),
        }
    }

    fn settle(&self) -> bool {
        self.out.wait_for_acks(Instant::now() + self.drain_timeout)
    }

    fn take_refused(&self) -> Vec<Failed> {
        let failed = &mut self.out.shared.state().failed;
        let (refused, rest) = std::mem::take(failed)
            .into_iter()
            .partition(|f| oversize::is_size_refusal(&f.error));
        *failed = rest;
        refused
    }
}
