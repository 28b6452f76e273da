//! The exactly-once path: `processing.guarantee=exactly_once_v2`, Kafka Streams' EOS v2
//! (KIP-447).
//!
//! One transactional producer per processing loop. Every commit interval (and before a
//! revoke gives partitions up, and at shutdown) the open transaction gets the input offsets
//! with the consumer's group metadata (`send_offsets_to_transaction`) and is committed: its
//! outputs, alerts and dead letters become visible to `read_committed` consumers together
//! with the offsets that produced them, or not at all. The group generation sent with the
//! offsets fences a zombie whose partitions went to another member; the transactional id
//! fences a zombie producer of the same instance (`RuntimeConfig::transactional_id`).
//!
//! Errors (librdkafka's transactional error classes): retriable, the commit is tried again
//! at the next housekeeping; abortable (a delivery in the transaction failed, the group
//! moved on), the transaction is aborted, the consumer is rewound to where the transaction
//! started and the records are processed again; fatal (fenced), the run stops naming it.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use metricpipe_kafka::{classify, ErrorClass};
use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{Producer, PurgeConfig};
use rdkafka::Offset;
use tracing::{debug, info, warn};

use super::commit::{
    follow_positions, to_list, CommitKind, CommitOutcome, Committer, GroupConsumer,
};
use super::offsets::CommitEntry;
use super::producer::{KafkaOutputs, Outputs};
use super::shared::Shared;
use super::{lock, StreamsError};

/// After this many aborts in a row, each caused by a delivery the brokers refuse for good,
/// the same input would be refused forever: stop and say so rather than loop.
const REFUSED_ABORTS_BEFORE_STOP: u32 = 3;

/// What to do about a transactional call's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Try the commit again at the next housekeeping.
    Retry,
    /// Abort, rewind and process again.
    Abort,
    /// The producer is unusable (fenced): stop.
    Stop,
}

/// librdkafka's classes, most severe first; an error in no class (a local state or
/// time-out error outside the transactional API) aborts, as nothing can be sure of it.
pub fn on_error(fatal: bool, requires_abort: bool, retriable: bool) -> OnError {
    if fatal {
        OnError::Stop
    } else if requires_abort {
        OnError::Abort
    } else if retriable {
        OnError::Retry
    } else {
        OnError::Abort
    }
}

fn classify_txn(e: &KafkaError) -> (OnError, RDKafkaErrorCode, String) {
    match e {
        KafkaError::Transaction(t) => (
            on_error(t.is_fatal(), t.txn_requires_abort(), t.is_retriable()),
            t.code(),
            t.string(),
        ),
        other => {
            let code = other.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail);
            let class = match classify(other) {
                ErrorClass::Fatal => OnError::Stop,
                ErrorClass::Retriable => OnError::Retry,
                ErrorClass::Permanent => OnError::Abort,
            };
            (class, code, other.to_string())
        }
    }
}

/// A transactional call that timed out and must be called again to resume: librdkafka
/// refuses any other (and every new output) until it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pending {
    #[default]
    Nothing,
    Commit,
    Abort,
}

/// Why the open transaction cannot commit, when it cannot.
#[derive(Debug, Default)]
pub struct TxnState {
    /// The call to resume before anything else.
    pub pending: Pending,
    /// A delivery in it failed, or an output was abandoned: it must abort.
    poisoned: Option<String>,
    /// The poisoning delivery was refused for good (not a broker outage).
    refused: bool,
    refused_aborts_in_a_row: u32,
}

impl TxnState {
    /// A delivery of the open transaction failed (`refused`: for good).
    pub fn poison(&mut self, cause: String, refused: bool) {
        if self.poisoned.is_none() {
            self.poisoned = Some(cause);
        }
        self.refused |= refused;
    }

    pub fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }

    /// An abort happened: `Some(cause)` when aborts caused by refusals repeat enough to
    /// say the input can never be committed.
    pub fn aborted(&mut self) -> Option<String> {
        let cause = self.poisoned.take();
        if std::mem::take(&mut self.refused) {
            self.refused_aborts_in_a_row += 1;
        } else {
            self.refused_aborts_in_a_row = 0;
        }
        (self.refused_aborts_in_a_row >= REFUSED_ABORTS_BEFORE_STOP).then(|| {
            format!(
                "{}; the brokers refused a delivery in {REFUSED_ABORTS_BEFORE_STOP} transactions in a row \
                 (each aborted and processed again); fix the topic's limits or ACLs, or run at_least_once \
                 with --dlq-topic",
                cause.unwrap_or_default()
            )
        })
    }

    pub fn committed(&mut self) {
        self.refused_aborts_in_a_row = 0;
    }
}

/// The transactional producer's calls, on the [`KafkaOutputs`]' producer: the committer under
/// exactly_once_v2.
pub struct Transactions {
    /// The longest each transactional call blocks.
    pub timeout: Duration,
    pub state: std::sync::Mutex<TxnState>,
}

impl Transactions {
    /// `init_transactions` (fencing the previous producer with the same transactional id
    /// and aborting its open transaction), then the first transaction. Retries while the
    /// brokers are away; `Err` when the producer can never be used.
    pub fn start(&self, out: &KafkaOutputs) -> Result<(), StreamsError> {
        let producer = &out.producer;
        let failed = |call| move |source| StreamsError::Transactions { call, source };
        loop {
            match producer.init_transactions(self.timeout) {
                Ok(()) => break,
                Err(e) => match classify_txn(&e) {
                    (OnError::Retry, ..) if !out.shared.stop.requested() => {
                        warn!(error = %e, "initializing the transactional producer; retrying");
                    }
                    _ => return Err(failed("init_transactions")(e)),
                },
            }
        }
        producer
            .begin_transaction()
            .map_err(failed("begin_transaction"))?;
        info!("transactional producer ready (exactly_once_v2)");
        Ok(())
    }

    /// Commits the open transaction with the input offsets processed in it, or resumes
    /// the commit or abort that timed out; see the module docs for what each error does.
    pub fn commit_transaction(
        &self,
        out: &KafkaOutputs,
        consumer: &dyn GroupConsumer,
        kind: CommitKind,
        settle: &dyn Fn(),
    ) -> CommitOutcome {
        let pending = lock(&self.state).pending;
        match pending {
            Pending::Commit => return self.finish_commit(out, kind, Instant::now()),
            Pending::Abort => return self.abort_transaction(out),
            Pending::Nothing => {}
        }
        let started = Instant::now();
        // Serve the delivery reports first: the flush inside commit_transaction waits for
        // them in 100 ms steps (docs/PERFORMANCE.md).
        out.wait_for_acks(started + self.timeout);
        settle();
        if out.abandoned.swap(false, Ordering::Relaxed) {
            lock(&self.state).poison("an output was abandoned".into(), false);
        }
        if lock(&self.state).is_poisoned() {
            return self.abort_transaction(out);
        }
        let entries = {
            let tracker = &mut out.shared.state().tracker;
            follow_positions(consumer, tracker);
            tracker.txn_offsets()
        };
        if entries.is_empty() {
            return CommitOutcome::Nothing;
        }
        let Some(group) = consumer.group_metadata() else {
            out.shared
                .fatal("consumer", RDKafkaErrorCode::Fail, "no group metadata");
            return CommitOutcome::Failed;
        };
        let sent =
            out.producer
                .send_offsets_to_transaction(&to_list(&entries), &group, self.timeout);
        if let Err(e) = sent {
            return self.failed(out, &e, kind, Pending::Nothing);
        }
        self.finish_commit(out, kind, started)
    }

    /// `commit_transaction`, first or resumed, then the next transaction.
    fn finish_commit(
        &self,
        out: &KafkaOutputs,
        kind: CommitKind,
        started: Instant,
    ) -> CommitOutcome {
        let producer = &out.producer;
        if let Err(e) = producer.commit_transaction(self.timeout) {
            return self.failed(out, &e, kind, Pending::Commit);
        }
        {
            let mut state = lock(&self.state);
            state.pending = Pending::Nothing;
            state.committed();
        }
        out.shared.state().tracker.txn_committed();
        metrics::counter!(metricpipe_telemetry::catalog::STREAMS_TRANSACTIONS_COMMITTED_TOTAL)
            .increment(1);
        metrics::histogram!(metricpipe_telemetry::catalog::STREAMS_COMMIT_DURATION_SECONDS)
            .record(started.elapsed().as_secs_f64());
        debug!(?kind, "transaction committed");
        match producer.begin_transaction() {
            Ok(()) => CommitOutcome::Committed,
            Err(e) => self.failed(out, &e, kind, Pending::Nothing),
        }
    }

    /// Whether a timed-out commit or abort must be resumed before any record is processed
    /// (librdkafka refuses new outputs meanwhile).
    pub fn has_pending_call(&self) -> bool {
        lock(&self.state).pending != Pending::Nothing
    }

    /// `resume`: the call to make again when the error is retriable.
    fn failed(
        &self,
        out: &KafkaOutputs,
        e: &KafkaError,
        kind: CommitKind,
        resume: Pending,
    ) -> CommitOutcome {
        let (action, code, reason) = classify_txn(e);
        match action {
            OnError::Retry => {
                lock(&self.state).pending = resume;
                if let Some(suppressed) = out.shared.delivery_trouble.check() {
                    warn!(error = %e, ?kind, suppressed, "committing the transaction failed; trying again");
                }
                CommitOutcome::Failed
            }
            OnError::Abort => {
                warn!(error = %e, ?kind, "the transaction must be aborted; its input is processed again");
                let mut state = lock(&self.state);
                state.pending = Pending::Nothing;
                state.poison(reason, false);
                drop(state);
                self.abort_transaction(out)
            }
            OnError::Stop => {
                out.shared.fatal("transactional producer", code, &reason);
                CommitOutcome::Failed
            }
        }
    }

    /// Aborts the open transaction and rewinds the offset tracker to where it started.
    pub fn abort_transaction(&self, out: &KafkaOutputs) -> CommitOutcome {
        let producer = &out.producer;
        let deadline = Instant::now() + self.timeout;
        // Queued outputs are dropped now; the in-flight ones end with the abort. Their
        // reports must be served here: librdkafka's abort waits for them.
        producer.purge(PurgeConfig::default().queue());
        out.wait_for_acks(deadline);
        out.shared.state().failed.clear();
        if let Err(e) =
            producer.abort_transaction(deadline.saturating_duration_since(Instant::now()))
        {
            let (action, code, reason) = classify_txn(&e);
            if action == OnError::Stop {
                out.shared.fatal("transactional producer", code, &reason);
            } else {
                lock(&self.state).pending = Pending::Abort;
                if let Some(suppressed) = out.shared.delivery_trouble.check() {
                    warn!(error = %e, suppressed, "aborting the transaction failed; trying again");
                }
            }
            return CommitOutcome::Failed;
        }
        lock(&self.state).pending = Pending::Nothing;
        out.abandoned.store(false, Ordering::Relaxed);
        metrics::counter!(metricpipe_telemetry::catalog::STREAMS_TRANSACTIONS_ABORTED_TOTAL)
            .increment(1);
        let rewind = out.shared.state().tracker.txn_aborted();
        if let Some(cause) = lock(&self.state).aborted() {
            out.shared
                .fatal("transactional producer", RDKafkaErrorCode::Fail, &cause);
            return CommitOutcome::Failed;
        }
        if let Err(e) = producer.begin_transaction() {
            let (_, code, reason) = classify_txn(&e);
            out.shared.fatal("transactional producer", code, &reason);
            return CommitOutcome::Failed;
        }
        warn!(
            partitions = rewind.len(),
            "transaction aborted; processing its input again"
        );
        CommitOutcome::Aborted(rewind)
    }
}

impl Committer for Transactions {
    fn commit(
        &self,
        out: &KafkaOutputs,
        consumer: &dyn GroupConsumer,
        kind: CommitKind,
        _only: Option<&[(String, i32)]>,
        settle: &dyn Fn(),
    ) -> CommitOutcome {
        self.commit_transaction(out, consumer, kind, settle)
    }

    fn transactional(&self) -> bool {
        true
    }

    fn blocked(&self) -> bool {
        self.has_pending_call()
    }

    fn abort(&self, out: &KafkaOutputs) -> CommitOutcome {
        self.abort_transaction(out)
    }

    fn poison(&self, cause: String, refused: bool) {
        lock(&self.state).poison(cause, refused);
    }
}

/// Seeks the consumer back to where an aborted transaction started. A partition that
/// cannot be rewound would skip the aborted records: then the run stops, and a restart
/// resumes from the committed offsets.
pub fn rewind<K: Consumer<C>, C: ConsumerContext>(
    consumer: &K,
    shared: &Shared,
    to: &[CommitEntry],
) {
    let assigned = consumer.assignment().ok();
    for e in to {
        let still_ours = assigned
            .as_ref()
            .is_some_and(|a| a.find_partition(&e.topic, e.partition).is_some());
        if !still_ours {
            continue;
        }
        if let Err(err) = consumer.seek(
            &e.topic,
            e.partition,
            Offset::Offset(e.offset),
            Duration::from_secs(10),
        ) {
            let reason = format!(
                "rewinding {}[{}] to {} after an abort failed: {err}",
                e.topic, e.partition, e.offset
            );
            shared.fatal("consumer", RDKafkaErrorCode::Fail, &reason);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_stops_abortable_aborts_retriable_retries() {
        assert_eq!(on_error(true, true, true), OnError::Stop);
        assert_eq!(on_error(false, true, true), OnError::Abort);
        assert_eq!(on_error(false, false, true), OnError::Retry);
        assert_eq!(on_error(false, false, false), OnError::Abort);
    }

    #[test]
    fn a_delivery_refused_in_every_transaction_stops_the_run_at_the_third_abort() {
        let mut s = TxnState::default();
        for _ in 0..2 {
            s.poison("too large".into(), true);
            assert!(s.is_poisoned());
            assert_eq!(s.aborted(), None);
            assert!(!s.is_poisoned(), "the next transaction starts clean");
        }
        s.poison("too large".into(), true);
        let cause = s.aborted().expect("the third refusal in a row stops");
        assert!(cause.starts_with("too large;"), "{cause}");
    }

    #[test]
    fn a_commit_or_an_outage_abort_resets_the_refusal_count() {
        let mut s = TxnState::default();
        s.poison("too large".into(), true);
        s.aborted();
        s.poison("too large".into(), true);
        s.aborted();
        s.committed();
        s.poison("too large".into(), true);
        assert_eq!(s.aborted(), None, "a commit came in between");
        s.poison("broker down".into(), false);
        assert_eq!(s.aborted(), None);
        s.poison("too large".into(), true);
        assert_eq!(s.aborted(), None, "an outage abort came in between");
    }
}
