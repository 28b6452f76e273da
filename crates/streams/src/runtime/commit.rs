//! When offsets are committed, and sending them.
//!
//! Three kinds of commit ([`CommitKind`]): the interval commit (asynchronous, every
//! `commit_interval`, never stalls the loop), the revoke commit (synchronous, after draining
//! the revoked partitions' outputs) and the final commit (synchronous, at shutdown). The
//! two synchronous ones send every partition's point again: rust-rdkafka 0.38 never reports
//! how an asynchronous commit went, so one may have failed unseen.
//!
//! An interval commit taken at tick `t` covers what was processed before `t`, and leaves
//! once those records' outputs are acknowledged ([`OffsetTracker::reached`]) or when the
//! next tick is due (brokers down: it then commits the acknowledged prefix). A commit that
//! fails is retried at the next housekeeping.
//!
//! Before either guarantee's commit takes its points, [`follow_positions`] hands the
//! consumer's positions to the tracker, so a partition that ends in transaction markers is
//! committed up to its end (issue 27, KAFKA-6607).

use std::time::{Duration, Instant};

use metricpipe_kafka::partitions::known_positions;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, ConsumerGroupMetadata,
};
use rdkafka::error::KafkaResult;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, warn};

use super::offsets::{CommitEntry, OffsetTracker, TrackId};
use super::producer::KafkaOutputs;
use super::shared::Shared;

/// The time source, injected so the policy is tested without sleeping.
pub trait Clock {
    fn now(&self) -> Instant;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitKind {
    Interval,
    Revoke,
    Final,
}

impl CommitKind {
    fn mode(self) -> CommitMode {
        match self {
            CommitKind::Interval => CommitMode::Async,
            CommitKind::Revoke | CommitKind::Final => CommitMode::Sync,
        }
    }
}

/// An interval commit that should leave now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntervalCommit {
    /// From its tick to now: how stale the commit is when it leaves.
    pub waited: Duration,
    /// The next tick came before every output was acknowledged.
    pub gave_up: bool,
}

/// Decides when interval commits leave (see the module docs).
pub struct CommitPolicy<C: Clock = SystemClock> {
    clock: C,
    interval: Duration,
    next_tick: Instant,
    /// The positions the pending interval commit covers, and its tick.
    due: Option<(Vec<(TrackId, i64)>, Instant)>,
}

impl<C: Clock> CommitPolicy<C> {
    pub fn new(clock: C, interval: Duration) -> Self {
        let next_tick = clock.now() + interval;
        CommitPolicy {
            clock,
            interval,
            next_tick,
            due: None,
        }
    }

    /// Called at each housekeeping: `Some` when an interval commit should be sent now.
    pub fn poll(&mut self, tracker: &OffsetTracker) -> Option<IntervalCommit> {
        let now = self.clock.now();
        if now >= self.next_tick && self.due.is_none() {
            self.next_tick = now + self.interval;
            self.due = Some((tracker.positions(), now));
        }
        let (positions, tick) = self.due.as_ref()?;
        let gave_up = now >= self.next_tick;
        if !gave_up && !tracker.reached(positions) {
            return None;
        }
        let waited = now.saturating_duration_since(*tick);
        self.due = None;
        Some(IntervalCommit { waited, gave_up })
    }

    /// The last commit failed: take the next one at once.
    pub fn failed(&mut self) {
        self.due = None;
        self.next_tick = self.clock.now();
    }
}

pub(super) fn to_list(entries: &[CommitEntry]) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for e in entries {
        // Only fails for an invalid offset type, which `Offset::Offset` is not.
        let _ = tpl.add_partition_offset(&e.topic, e.partition, Offset::Offset(e.offset));
    }
    tpl
}

/// How a commit went (either guarantee).
#[derive(Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Nothing was processed since the last commit.
    Nothing,
    /// Try again at the next housekeeping (or the run stops: fatal).
    Failed,
    /// Aborted: seek the consumer to these offsets and process again.
    Aborted(Vec<CommitEntry>),
}

/// What a commit needs of the group's consumer (rdkafka's; a fake in tests).
pub trait GroupConsumer {
    /// `(topic, partition, position)` of each assigned partition whose position is known:
    /// one past the last record or transaction marker the consumer served.
    fn positions(&self) -> Vec<(String, i32, i64)>;
    /// Commits these offsets to the group (`mode`: wait for the answer or not).
    fn commit_offsets(&self, entries: &[CommitEntry], mode: CommitMode) -> KafkaResult<()>;
    /// The group generation and member, for `send_offsets_to_transaction`.
    fn group_metadata(&self) -> Option<ConsumerGroupMetadata>;
}

impl<C: ConsumerContext> GroupConsumer for BaseConsumer<C> {
    fn positions(&self) -> Vec<(String, i32, i64)> {
        known_positions(self)
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.topic().to_string(), e.partition(), o)),
                _ => None,
            })
            .collect()
    }

    fn commit_offsets(&self, entries: &[CommitEntry], mode: CommitMode) -> KafkaResult<()> {
        self.commit(&to_list(entries), mode)
    }

    fn group_metadata(&self) -> Option<ConsumerGroupMetadata> {
        Consumer::group_metadata(self)
    }
}

/// How processed input is committed: the consumer's offsets under at-least-once
/// ([`ConsumerCommits`]), the open transaction under exactly_once_v2 (`Transactions`).
pub trait Committer: Send + Sync {
    /// Commits what the offset tracker allows (`only`: those partitions, where the kind of
    /// commit can leave others out). `settle` serves the failed deliveries first, when the
    /// committer needs them settled before it commits.
    fn commit(
        &self,
        out: &KafkaOutputs,
        consumer: &dyn GroupConsumer,
        kind: CommitKind,
        only: Option<&[(String, i32)]>,
        settle: &dyn Fn(),
    ) -> CommitOutcome;

    /// Whether work stays open between commits that must not outlive the partitions
    /// (a transaction), and a failed delivery fails that work as a whole.
    fn transactional(&self) -> bool {
        false
    }

    /// A timed-out commit or abort must be resumed before any record is processed.
    fn blocked(&self) -> bool {
        false
    }

    /// Gives up the open work (see [`transactional`](Self::transactional)).
    fn abort(&self, _out: &KafkaOutputs) -> CommitOutcome {
        CommitOutcome::Nothing
    }

    /// A delivery of the open work failed (`refused`: for good); it must abort.
    fn poison(&self, _cause: String, _refused: bool) {}
}

/// At-least-once: the consumer commits the offsets whose outputs are all acknowledged.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsumerCommits;

impl Committer for ConsumerCommits {
    fn commit(
        &self,
        out: &KafkaOutputs,
        consumer: &dyn GroupConsumer,
        kind: CommitKind,
        only: Option<&[(String, i32)]>,
        _settle: &dyn Fn(),
    ) -> CommitOutcome {
        if send(consumer, &out.shared, kind, only) {
            CommitOutcome::Committed
        } else {
            CommitOutcome::Failed
        }
    }
}

/// Hands the consumer's position of each assigned partition to the tracker
/// ([`OffsetTracker::follow`]), which takes it only where every record handed over is
/// processed. Call it on the loop's thread (or in a rebalance callback), between polls: the
/// positions then reflect no record that the loop has not seen.
pub fn follow_positions(consumer: &dyn GroupConsumer, tracker: &mut OffsetTracker) {
    for (topic, partition, position) in consumer.positions() {
        tracker.follow(&topic, partition, position);
    }
}

/// Sends a commit of `kind` for the partitions in `only` (all when `None`). Returns false
/// when it failed; the tracker then carries those partitions in the next commit.
pub fn send(
    consumer: &dyn GroupConsumer,
    shared: &Shared,
    kind: CommitKind,
    only: Option<&[(String, i32)]>,
) -> bool {
    let again = kind != CommitKind::Interval;
    let entries = {
        let tracker = &mut shared.state().tracker;
        follow_positions(consumer, tracker);
        tracker.commit_list(only, again)
    };
    if entries.is_empty() {
        return true;
    }
    let started = Instant::now();
    let result = consumer.commit_offsets(&entries, kind.mode());
    metrics::histogram!(metricpipe_telemetry::catalog::STREAMS_COMMIT_DURATION_SECONDS)
        .record(started.elapsed().as_secs_f64());
    match result {
        Ok(()) => {
            debug!(?kind, partitions = entries.len(), "committed");
            true
        }
        Err(e) => {
            warn!(error = %e, ?kind, "committing offsets failed; the next commit carries them");
            let failed: Vec<(String, i32)> = entries
                .into_iter()
                .map(|e| (e.topic, e.partition))
                .collect();
            shared.state().tracker.commit_failed(&failed);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    #[derive(Clone)]
    struct FakeClock(Rc<Cell<Instant>>);

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            self.0.get()
        }
    }

    impl FakeClock {
        fn advance(&self, d: Duration) {
            self.0.set(self.0.get() + d);
        }
    }

    fn setup() -> (FakeClock, CommitPolicy<FakeClock>, OffsetTracker) {
        let clock = FakeClock(Rc::new(Cell::new(Instant::now())));
        let policy = CommitPolicy::new(clock.clone(), Duration::from_millis(100));
        (clock, policy, OffsetTracker::default())
    }

    #[test]
    fn an_interval_commit_leaves_once_its_outputs_are_acknowledged() {
        let (clock, mut policy, mut tr) = setup();
        let id = tr.assign("t", 0, None);
        let tok = tr.register(id, 0, 1).unwrap();
        assert_eq!(policy.poll(&tr), None, "no tick yet");
        clock.advance(Duration::from_millis(100));
        assert_eq!(policy.poll(&tr), None, "the output is in flight");
        tr.register(id, 1, 1);
        clock.advance(Duration::from_millis(30));
        tr.ack(tok);
        let c = policy.poll(&tr).expect("record 0 is acknowledged");
        assert_eq!(c.waited, Duration::from_millis(30));
        assert!(!c.gave_up);
        assert_eq!(
            tr.commit_list(None, false)[0].offset,
            1,
            "record 1 is still out"
        );
    }

    #[test]
    fn with_brokers_down_it_commits_the_acknowledged_prefix_at_the_next_tick() {
        let (clock, mut policy, mut tr) = setup();
        let id = tr.assign("t", 0, None);
        tr.register(id, 0, 0);
        tr.register(id, 1, 1);
        clock.advance(Duration::from_millis(100));
        assert_eq!(policy.poll(&tr), None);
        clock.advance(Duration::from_millis(100));
        let c = policy.poll(&tr).expect("gives up at the next tick");
        assert!(c.gave_up);
        assert_eq!(tr.commit_list(None, false)[0].offset, 1);
    }

    #[test]
    fn a_failed_commit_is_retried_at_once_with_its_partitions() {
        let (clock, mut policy, mut tr) = setup();
        let id = tr.assign("t", 0, None);
        tr.register(id, 0, 0);
        clock.advance(Duration::from_millis(100));
        assert!(policy.poll(&tr).is_some());
        assert_eq!(tr.commit_list(None, false).len(), 1);
        // The commit failed.
        tr.commit_failed(&[("t".into(), 0)]);
        policy.failed();
        assert!(policy.poll(&tr).is_some(), "no wait for the next interval");
        assert_eq!(tr.commit_list(None, false).len(), 1, "carried again");
    }
}
