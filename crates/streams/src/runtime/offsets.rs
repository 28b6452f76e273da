//! Offset tracking: which input offsets may be committed, per assigned partition.
//!
//! Each processed record with outputs gets a [`DeliveryToken`] naming a slot that counts
//! its outputs not yet acknowledged; every output of the record carries the token, and
//! each acknowledgement counts the slot down. A partition's commit point is the lowest
//! offset whose record still has outputs in flight, or one past the last record processed.
//!
//! The commit point follows the consumer's real position, not only the records it saw:
//! a record whose offset is not the next expected one says that the position moved without
//! a record being processed ([`Moved`]): forward (retention deleted the committed offset
//! and the consumer reset to the log start; compaction; transaction markers) or back (the
//! topic was deleted and re-created, the log was truncated, someone seeked). Forward, the
//! gap is reported; back, the partition's old in-flight records and its last committed
//! point are forgotten, so the new, lower points are committed.
//!
//! Past the last record, the commit point follows the consumer's position too
//! ([`follow`](OffsetTracker::follow)): a partition that ends in transaction markers
//! (control records, never handed over) would otherwise stay one or more offsets short of
//! its end for ever, and every lag figure with it (KAFKA-6607, where Kafka Streams commits
//! `consumer.position()`). librdkafka's position of a partition is one past the last record
//! or marker its consumer queue served, in log order, so it passes nothing but markers (and
//! aborted records) beyond the last record handed over; it is taken only while every record
//! handed over is registered, and, under at-least-once, acknowledged.
//!
//! **Invariant:** the commit point never passes an offset whose outputs are not all
//! acknowledged (or given up on explicitly with [`OffsetTracker::ack`]).

use std::collections::VecDeque;

/// Names the in-flight record an output belongs to; carried through librdkafka as the
/// delivery opaque. A slot is reused only after its record is done and left its partition's
/// queue, so a late acknowledgement never counts down someone else's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryToken(u32);

impl rdkafka::util::IntoOpaque for DeliveryToken {
    fn into_ptr(self) -> *mut std::ffi::c_void {
        self.0 as usize as *mut std::ffi::c_void
    }

    unsafe fn from_ptr(ptr: *mut std::ffi::c_void) -> Self {
        DeliveryToken(ptr as usize as u32)
    }
}

/// A stable handle for one assigned partition (not reused while the run lasts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackId(u32);

/// How the consumer's position moved when a record arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// The record is the next one expected (or the first one seen).
    InOrder,
    /// Offsets `from..to` were never seen: retention, compaction or transaction markers.
    Skipped { from: i64, to: i64 },
    /// The position went back from `from` to `to`: re-created topic, truncation, seek.
    Rewound { from: i64, to: i64 },
}

/// One partition's commit point to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitEntry {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

#[derive(Debug)]
struct Track {
    topic: String,
    partition: i32,
    /// (offset, slot) of the records with outputs in flight, ascending offsets.
    pending: VecDeque<(i64, u32)>,
    /// One past the last offset processed; `None` until the position is known.
    next: Option<i64>,
    /// One past the last record the consumer handed over, registered or not.
    handed: Option<i64>,
    /// The consumer's position past `next` (markers), taken by [`OffsetTracker::follow`].
    position: Option<i64>,
    /// The last commit point sent and not known to have failed.
    committed: Option<i64>,
    /// Under exactly-once: the offset of the first record processed in the open
    /// transaction, where an abort rewinds to.
    txn_start: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    left: u32,
    /// The partition was revoked or rewound: nobody waits for this slot any more.
    orphan: bool,
}

/// Commit points of every assigned partition (see the module docs).
#[derive(Debug, Default)]
pub struct OffsetTracker {
    tracks: Vec<Option<Track>>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Bumped when a track comes or goes, so cached `TrackId`s can be checked cheaply.
    generation: u64,
}

impl OffsetTracker {
    /// The partition's track, created with `position` (the committed offset it resumes
    /// from, if known) when new.
    pub fn assign(&mut self, topic: &str, partition: i32, position: Option<i64>) -> TrackId {
        if let Some(id) = self.find(topic, partition) {
            let t = self.track_mut(id).expect("found");
            if t.next.is_none() {
                t.next = position;
            }
            return id;
        }
        self.generation += 1;
        self.tracks.push(Some(Track {
            topic: topic.to_string(),
            partition,
            pending: VecDeque::new(),
            next: position,
            handed: None,
            position: None,
            committed: position,
            txn_start: None,
        }));
        TrackId(self.tracks.len() as u32 - 1)
    }

    /// Changes whenever a partition is assigned or revoked.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn find(&self, topic: &str, partition: i32) -> Option<TrackId> {
        self.tracks
            .iter()
            .position(|t| {
                t.as_ref()
                    .is_some_and(|t| t.partition == partition && t.topic == topic)
            })
            .map(|i| TrackId(i as u32))
    }

    fn track(&self, id: TrackId) -> Option<&Track> {
        self.tracks.get(id.0 as usize).and_then(Option::as_ref)
    }

    fn track_mut(&mut self, id: TrackId) -> Option<&mut Track> {
        self.tracks.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    /// Compares a record's offset with the expected one and follows the position.
    pub fn observe(&mut self, id: TrackId, offset: i64) -> Moved {
        let Some(t) = self.track_mut(id) else {
            return Moved::InOrder;
        };
        let moved = match t.next {
            None => Moved::InOrder,
            Some(next) if offset == next => Moved::InOrder,
            Some(next) if offset > next => Moved::Skipped {
                from: next,
                to: offset,
            },
            Some(next) => Moved::Rewound {
                from: next,
                to: offset,
            },
        };
        t.handed = Some(offset + 1);
        if t.position.is_some_and(|p| offset < p) {
            // A record below the position taken: it was not past markers after all.
            t.position = None;
        }
        if let Moved::Rewound { .. } = moved {
            let old: Vec<u32> = t.pending.drain(..).map(|(_, s)| s).collect();
            t.committed = None;
            t.txn_start = None;
            t.position = None;
            for s in old {
                self.orphan(s);
            }
        }
        moved
    }

    /// The consumer handed over the record at `offset`, which is not processed (it stops
    /// the run): the position, now past it, is not followed.
    pub fn handed_over(&mut self, id: TrackId, offset: i64) {
        if let Some(t) = self.track_mut(id) {
            t.handed = Some(offset + 1);
        }
    }

    /// The consumer's position of a partition, read when a commit is about to leave: taken
    /// as the partition's point past its last record when every record the consumer handed
    /// over is registered and it is ahead of them (the offsets between are markers or
    /// aborted records). Ignored otherwise; see the module docs.
    pub fn follow(&mut self, topic: &str, partition: i32, position: i64) {
        let Some(id) = self.find(topic, partition) else {
            return;
        };
        let t = self.track_mut(id).expect("found");
        if t.handed.is_some() && t.handed != t.next {
            return;
        }
        if t.next.is_none_or(|n| position > n) {
            t.position = Some(position);
        }
    }

    /// Records that the record at `offset` was processed with `outputs` outputs to send;
    /// the token goes with each of them. Call [`observe`](Self::observe) first.
    pub fn register(&mut self, id: TrackId, offset: i64, outputs: u32) -> Option<DeliveryToken> {
        let slot = (outputs > 0).then(|| self.alloc(outputs));
        let t = self.track_mut(id)?;
        t.next = Some(offset + 1);
        t.txn_start.get_or_insert(offset);
        if let Some(s) = slot {
            t.pending.push_back((offset, s));
        }
        slot.map(DeliveryToken)
    }

    /// One output of the token's record is acknowledged (or given up on for good).
    pub fn ack(&mut self, token: DeliveryToken) {
        let Some(slot) = self.slots.get_mut(token.0 as usize) else {
            return;
        };
        slot.left = slot.left.saturating_sub(1);
        if slot.left > 0 {
            return;
        }
        if slot.orphan {
            self.free.push(token.0);
            return;
        }
        self.pop_done();
    }

    fn alloc(&mut self, left: u32) -> u32 {
        let slot = Slot {
            left,
            orphan: false,
        };
        match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = slot;
                s
            }
            None => {
                self.slots.push(slot);
                self.slots.len() as u32 - 1
            }
        }
    }

    fn orphan(&mut self, s: u32) {
        let slot = &mut self.slots[s as usize];
        if slot.left == 0 {
            self.free.push(s);
        } else {
            slot.orphan = true;
        }
    }

    fn pop_done(&mut self) {
        let slots = &self.slots;
        for t in self.tracks.iter_mut().flatten() {
            while let Some(&(_, s)) = t.pending.front() {
                if slots[s as usize].left > 0 {
                    break;
                }
                t.pending.pop_front();
                self.free.push(s);
            }
        }
    }

    /// The offset a commit may carry for this partition now.
    pub fn commit_point(&self, id: TrackId) -> Option<i64> {
        let t = self.track(id)?;
        match t.pending.front() {
            Some(&(o, _)) => Some(o),
            None => t.next.max(t.position),
        }
    }

    /// Where each partition's processing stands now: what an interval commit covers.
    pub fn positions(&self) -> Vec<(TrackId, i64)> {
        (0..self.tracks.len() as u32)
            .map(TrackId)
            .filter_map(|id| Some((id, self.track(id)?.next?)))
            .collect()
    }

    /// Whether every partition's commit point reached `positions`; a partition revoked or
    /// rewound since has nothing left to wait for.
    pub fn reached(&self, positions: &[(TrackId, i64)]) -> bool {
        positions.iter().all(|&(id, next)| {
            self.track(id).is_none_or(|t| {
                t.next.is_some_and(|n| n < next) || self.commit_point(id).is_none_or(|p| p >= next)
            })
        })
    }

    /// The commit points that moved since the last commit (every known one with `again`),
    /// limited to `only` when given; they count as committed from here on.
    pub fn commit_list(&mut self, only: Option<&[(String, i32)]>, again: bool) -> Vec<CommitEntry> {
        let mut out = Vec::new();
        for i in 0..self.tracks.len() as u32 {
            let id = TrackId(i);
            let Some(point) = self.commit_point(id) else {
                continue;
            };
            let t = self.track_mut(id).expect("has a point");
            if only.is_some_and(|o| !o.iter().any(|(tp, p)| *p == t.partition && *tp == t.topic)) {
                continue;
            }
            if again || t.committed.is_none_or(|c| point != c) {
                t.committed = Some(point);
                out.push(CommitEntry {
                    topic: t.topic.clone(),
                    partition: t.partition,
                    offset: point,
                });
            }
        }
        out
    }

    /// A commit of these partitions failed: the next commit carries them again.
    pub fn commit_failed(&mut self, failed: &[(String, i32)]) {
        for t in self.tracks.iter_mut().flatten() {
            if failed
                .iter()
                .any(|(tp, p)| *p == t.partition && *tp == t.topic)
            {
                t.committed = None;
            }
        }
    }

    /// Forgets revoked partitions; late acknowledgements of their records are harmless.
    pub fn revoke(&mut self, revoked: &[(String, i32)]) {
        let mut orphans = Vec::new();
        for slot in self.tracks.iter_mut() {
            if slot.as_ref().is_some_and(|t| {
                revoked
                    .iter()
                    .any(|(tp, p)| *p == t.partition && *tp == t.topic)
            }) {
                let t = slot.take().expect("checked");
                self.generation += 1;
                orphans.extend(t.pending.into_iter().map(|(_, s)| s));
            }
        }
        for s in orphans {
            self.orphan(s);
        }
    }

    /// Under exactly-once: what the open transaction commits, for each partition that
    /// processed a record in it (one past the last one, or the position past the markers
    /// after it) or whose position moved past markers alone since the last commit. Its
    /// outputs need not be acknowledged yet: committing the transaction flushes them, and
    /// fails if one failed.
    pub fn txn_offsets(&self) -> Vec<CommitEntry> {
        self.tracks
            .iter()
            .flatten()
            .filter_map(|t| {
                Some(CommitEntry {
                    topic: t.topic.clone(),
                    partition: t.partition,
                    offset: txn_point(t)?,
                })
            })
            .collect()
    }

    /// The transaction committed: the next one starts where each partition stands.
    pub fn txn_committed(&mut self) {
        for t in self.tracks.iter_mut().flatten() {
            if let Some(point) = txn_point(t) {
                t.committed = Some(point);
            }
            t.txn_start = None;
        }
    }

    /// The transaction was aborted (and every delivery report of its outputs served):
    /// each partition goes back to where the transaction started and forgets its records.
    /// Returns where to seek the consumer.
    pub fn txn_aborted(&mut self) -> Vec<CommitEntry> {
        let mut rewind = Vec::new();
        let mut slots = Vec::new();
        for t in self.tracks.iter_mut().flatten() {
            slots.extend(t.pending.drain(..).map(|(_, s)| s));
            if let Some(start) = t.txn_start.take() {
                t.next = Some(start);
                t.position = None;
                rewind.push(CommitEntry {
                    topic: t.topic.clone(),
                    partition: t.partition,
                    offset: start,
                });
            }
        }
        // The aborted outputs' reports were served as failures: no acknowledgement will
        // come for these slots, so they are free now.
        for s in slots {
            self.slots[s as usize].left = 0;
            self.free.push(s);
        }
        rewind
    }

    /// The last commit point sent for a partition and not known to have failed.
    pub fn committed(&self, topic: &str, partition: i32) -> Option<i64> {
        self.track(self.find(topic, partition)?)?.committed
    }

    /// Records handed to the producer whose outputs are not all acknowledged.
    pub fn in_flight(&self) -> usize {
        self.tracks.iter().flatten().map(|t| t.pending.len()).sum()
    }
}

/// What the open transaction commits for this partition (see `txn_offsets`).
fn txn_point(t: &Track) -> Option<i64> {
    let point = t.next.max(t.position)?;
    let past_markers = t
        .position
        .is_some_and(|p| t.committed.is_none_or(|c| p > c));
    let moved = t.txn_start.is_some() || past_markers;
    moved.then_some(point)
}

#[cfg(test)]
#[path = "offsets_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "offsets_props.rs"]
mod props;
