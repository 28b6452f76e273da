//! The commit invariant as a property, without a broker: under random orders of
//! acknowledgements, refusals (given up or dead-lettered), splits of refused batches,
//! transaction markers, revokes and reassignments, a commit never passes an output that
//! is not acknowledged nor a record handed over but not processed; under exactly-once an
//! abort rewinds each partition to the first record of the open transaction.
//!
//! The model is the consumer and producer as the runtime sees them: a log per partition
//! (records, with markers between them), the consumer's position, and the outputs in
//! flight with their delivery tokens.

use proptest::prelude::*;

use super::*;

const TOPIC: &str = "metric.all";
const PARTITIONS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    /// The consumer hands over the next record of `partition`, `gap` offsets on (markers
    /// or compacted records before it); processing it gives `outputs` outputs.
    Record {
        partition: usize,
        gap: u8,
        outputs: u8,
    },
    /// The record stops the run unprocessed (`LogAndFail`).
    Fail {
        partition: usize,
    },
    /// Transaction markers after the last record: the position moves on by `n`.
    Markers {
        partition: usize,
        n: u8,
    },
    /// The brokers acknowledge an output in flight.
    Ack(usize),
    /// An output is refused for good: given up (acknowledged) or dead-lettered (a new
    /// output with the same token takes its place).
    Refuse {
        pick: usize,
        dead_letter: bool,
    },
    /// A refused batch is split and sent again: its outputs stay in flight.
    Split,
    /// A commit reads the consumer's positions, then commits (`again`: revoke or final).
    Commit {
        again: bool,
    },
    Revoke(usize),
    Assign(usize),
    /// Exactly-once only: the transaction aborts.
    Abort,
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..PARTITIONS;
    prop_oneof![
        6 => (p.clone(), 0u8..3, 0u8..4)
            .prop_map(|(partition, gap, outputs)| Op::Record { partition, gap, outputs }),
        1 => p.clone().prop_map(|partition| Op::Fail { partition }),
        2 => (p.clone(), 1u8..3).prop_map(|(partition, n)| Op::Markers { partition, n }),
        6 => any::<usize>().prop_map(Op::Ack),
        2 => (any::<usize>(), any::<bool>())
            .prop_map(|(pick, dead_letter)| Op::Refuse { pick, dead_letter }),
        1 => Just(Op::Split),
        3 => any::<bool>().prop_map(|again| Op::Commit { again }),
        1 => p.clone().prop_map(Op::Revoke),
        1 => p.prop_map(Op::Assign),
        1 => Just(Op::Abort),
    ]
}

#[derive(Debug, Default, Clone)]
struct Partition {
    assigned: bool,
    /// The next offset in the log.
    log_end: i64,
    /// The consumer's position (librdkafka's app offset): `None` until it served one.
    position: Option<i64>,
    /// Where the partition was assigned from (the group's committed offset).
    start: i64,
    /// A record handed over and not processed.
    failed_at: Option<i64>,
    /// Registered records with outputs not all acknowledged: (offset, left).
    pending: Vec<(i64, u32)>,
    /// The first record of the open transaction.
    txn_first: Option<i64>,
    committed: Option<i64>,
}

struct World {
    transactional: bool,
    tracker: OffsetTracker,
    parts: Vec<Partition>,
    /// Outputs in flight: (partition, offset, token); orphans of revoked partitions too.
    in_flight: Vec<(usize, i64, DeliveryToken)>,
}

impl World {
    fn new(transactional: bool) -> Self {
        let mut w = World {
            transactional,
            tracker: OffsetTracker::default(),
            parts: vec![Partition::default(); PARTITIONS],
            in_flight: Vec::new(),
        };
        for p in 0..PARTITIONS {
            w.assign(p);
        }
        w
    }

    fn assign(&mut self, p: usize) {
        let part = &mut self.parts[p];
        if part.assigned {
            return;
        }
        let start = part.committed.unwrap_or(0);
        *part = Partition {
            assigned: true,
            log_end: part.log_end.max(start),
            start,
            committed: part.committed,
            ..Partition::default()
        };
        // The consumer reads again from the committed offset.
        part.log_end = start;
        self.tracker.assign(TOPIC, p as i32, part.committed);
    }

    fn record(&mut self, p: usize, gap: u8, outputs: u8) {
        let part = &mut self.parts[p];
        if !part.assigned || part.failed_at.is_some() {
            return;
        }
        let offset = part.log_end + i64::from(gap);
        part.log_end = offset + 1;
        part.position = Some(offset + 1);
        let id = self.tracker.find(TOPIC, p as i32).expect("assigned");
        self.tracker.observe(id, offset);
        let token = self.tracker.register(id, offset, u32::from(outputs));
        part.txn_first.get_or_insert(offset);
        if let Some(token) = token {
            part.pending.push((offset, u32::from(outputs)));
            for _ in 0..outputs {
                self.in_flight.push((p, offset, token));
            }
        }
    }

    fn fail(&mut self, p: usize) {
        let part = &mut self.parts[p];
        if !part.assigned || part.failed_at.is_some() {
            return;
        }
        let offset = part.log_end;
        part.failed_at = Some(offset);
        part.log_end = offset + 1;
        part.position = Some(offset + 1);
        let id = self.tracker.find(TOPIC, p as i32).expect("assigned");
        self.tracker.handed_over(id, offset);
    }

    fn markers(&mut self, p: usize, n: u8) {
        let part = &mut self.parts[p];
        if part.assigned {
            part.log_end += i64::from(n);
            part.position = Some(part.log_end);
        }
    }

    /// An output's delivery ends: acknowledged, or given up on for good.
    fn ack(&mut self, pick: usize) {
        if self.in_flight.is_empty() {
            return;
        }
        let (p, offset, token) = self.in_flight.swap_remove(pick % self.in_flight.len());
        self.tracker.ack(token);
        let part = &mut self.parts[p];
        if let Some(slot) = part.pending.iter_mut().find(|(o, _)| *o == offset) {
            slot.1 -= 1;
        }
        part.pending.retain(|&(_, left)| left > 0);
    }

    fn follow(&mut self) {
        for (p, part) in self.parts.iter().enumerate() {
            if let (true, Some(pos)) = (part.assigned, part.position) {
                self.tracker.follow(TOPIC, p as i32, pos);
            }
        }
    }

    /// What no commit of partition `p` may pass.
    fn bound(&self, p: usize) -> i64 {
        let part = &self.parts[p];
        let unacked = part.pending.first().map(|&(o, _)| o);
        let end = part.position.unwrap_or(part.start).max(part.start);
        [unacked, part.failed_at, Some(end)]
            .into_iter()
            .flatten()
            .min()
            .expect("end")
    }

    fn commit(&mut self, again: bool) -> Result<(), TestCaseError> {
        self.follow();
        if self.transactional {
            // commit_transaction flushes: every output is acknowledged first.
            while !self.in_flight.is_empty() {
                self.ack(0);
            }
        }
        let entries = if self.transactional {
            self.tracker.txn_offsets()
        } else {
            self.tracker.commit_list(None, again)
        };
        for e in &entries {
            let p = e.partition as usize;
            prop_assert!(self.parts[p].assigned, "{e:?}: not assigned");
            prop_assert!(e.offset <= self.bound(p), "{e:?} passes {}", self.bound(p));
            self.parts[p].committed = Some(e.offset);
        }
        if self.transactional {
            self.tracker.txn_committed();
            self.parts.iter_mut().for_each(|part| part.txn_first = None);
        }
        Ok(())
    }

    fn abort(&mut self) -> Result<(), TestCaseError> {
        if !self.transactional {
            return Ok(());
        }
        // The abort serves every report of its outputs (as failures) first.
        self.in_flight.retain(|&(p, ..)| !self.parts[p].assigned);
        let mut rewind: Vec<(usize, i64)> = self
            .tracker
            .txn_aborted()
            .iter()
            .map(|e| (e.partition as usize, e.offset))
            .collect();
        rewind.sort_unstable();
        let mut want = Vec::new();
        for (p, part) in self.parts.iter_mut().enumerate() {
            part.pending.clear();
            if let Some(first) = part.txn_first.take() {
                want.push((p, first));
                // The consumer is sought back; its position is unknown until a record.
                part.log_end = first;
                part.position = None;
                part.failed_at = None;
            }
        }
        prop_assert_eq!(
            rewind,
            want,
            "an abort rewinds to each transaction's first record"
        );
        Ok(())
    }

    fn revoke(&mut self, p: usize) -> Result<(), TestCaseError> {
        if !self.parts[p].assigned {
            return Ok(());
        }
        // The revoke callback drains and commits before the partition goes.
        self.commit(true)?;
        self.tracker.revoke(&[(TOPIC.to_string(), p as i32)]);
        let part = &mut self.parts[p];
        part.assigned = false;
        part.pending.clear();
        Ok(())
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Record {
                partition,
                gap,
                outputs,
            } => self.record(partition, gap, outputs),
            Op::Fail { partition } => self.fail(partition),
            Op::Markers { partition, n } => self.markers(partition, n),
            Op::Ack(pick) => self.ack(pick),
            Op::Refuse {
                pick,
                dead_letter: false,
            } => self.ack(pick),
            // The dead letter (or the split's resent records) carry the same tokens.
            Op::Refuse {
                dead_letter: true, ..
            }
            | Op::Split => {}
            Op::Commit { again } => self.commit(again)?,
            Op::Revoke(p) => self.revoke(p)?,
            Op::Assign(p) => self.assign(p),
            Op::Abort => self.abort()?,
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_commit_passes_an_unacknowledged_output(
        transactional in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let mut world = World::new(transactional);
        for op in ops {
            world.apply(op)?;
        }
        // Everything acknowledged at the end: a final commit reaches every position.
        while !world.in_flight.is_empty() {
            world.ack(0);
        }
        world.commit(true)?;
    }
}
