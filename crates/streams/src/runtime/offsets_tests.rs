use super::*;

fn parts(list: &[(&str, i32)]) -> Vec<(String, i32)> {
    list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
}

#[test]
fn the_commit_point_never_passes_an_unacknowledged_output() {
    let mut tr = OffsetTracker::default();
    let id = tr.assign("t", 0, Some(10));
    assert_eq!(tr.observe(id, 10), Moved::InOrder);
    let a = tr.register(id, 10, 2).unwrap();
    assert_eq!(tr.register(id, 11, 0), None);
    let c = tr.register(id, 12, 1).unwrap();
    assert_eq!(tr.commit_point(id), Some(10));
    tr.ack(c);
    assert_eq!(
        tr.commit_point(id),
        Some(10),
        "a later ack must not move it"
    );
    tr.ack(a);
    assert_eq!(
        tr.commit_point(id),
        Some(10),
        "one of two outputs is still out"
    );
    tr.ack(a);
    assert_eq!(tr.commit_point(id), Some(13));
}

#[test]
fn offsets_above_forty_bits_are_tracked() {
    let mut tr = OffsetTracker::default();
    let id = tr.assign("t", 2, None);
    let big = 5_000_000_000_000;
    let tok = tr.register(id, big, 1).unwrap();
    assert_eq!(tr.commit_point(id), Some(big));
    tr.ack(tok);
    assert_eq!(tr.commit_point(id), Some(big + 1));
}

#[test]
fn an_interval_commit_waits_for_what_was_processed_before_its_tick() {
    let mut tr = OffsetTracker::default();
    let a = tr.assign("t", 0, None);
    let b = tr.assign("t", 1, None);
    let tok = tr.register(a, 0, 1).unwrap();
    tr.register(b, 0, 0);
    let positions = tr.positions();
    tr.register(b, 1, 1);
    assert!(!tr.reached(&positions), "partition 0's output is in flight");
    tr.ack(tok);
    assert!(
        tr.reached(&positions),
        "partition 1's later record is not waited for"
    );
}

#[test]
fn revoke_forgets_the_partition_and_late_acks_are_harmless() {
    let mut tr = OffsetTracker::default();
    let a = tr.assign("t", 0, None);
    let tok = tr.register(a, 5, 1).unwrap();
    let positions = tr.positions();
    tr.revoke(&parts(&[("t", 0)]));
    assert!(
        tr.reached(&positions),
        "a revoked partition is not waited for"
    );
    assert!(tr.commit_list(None, true).is_empty());
    // The slot is not reused while its ack is outstanding.
    let b = tr.assign("t", 1, None);
    let tok2 = tr.register(b, 7, 1).unwrap();
    assert_ne!(tok, tok2);
    tr.ack(tok);
    assert_eq!(
        tr.commit_point(b),
        Some(7),
        "the late ack did not touch partition 1"
    );
    tr.ack(tok2);
    assert_eq!(tr.commit_point(b), Some(8));
}

#[test]
fn commit_list_carries_moved_points_and_a_failed_commit_is_retried() {
    let mut tr = OffsetTracker::default();
    let id = tr.assign("t", 0, None);
    tr.register(id, 0, 0);
    assert_eq!(tr.commit_list(None, false).len(), 1);
    assert!(tr.commit_list(None, false).is_empty(), "nothing moved");
    assert_eq!(
        tr.commit_list(None, true).len(),
        1,
        "a final commit sends it again"
    );
    tr.commit_failed(&parts(&[("t", 0)]));
    let retry = tr.commit_list(None, false);
    assert_eq!(
        retry,
        vec![CommitEntry {
            topic: "t".into(),
            partition: 0,
            offset: 1
        }]
    );
    assert!(tr.commit_list(Some(&parts(&[("t", 1)])), true).is_empty());
}

#[test]
fn a_position_that_moves_forward_is_reported_and_followed() {
    let mut tr = OffsetTracker::default();
    let id = tr.assign("t", 0, Some(100));
    assert_eq!(tr.observe(id, 250), Moved::Skipped { from: 100, to: 250 });
    tr.register(id, 250, 0);
    assert_eq!(tr.commit_point(id), Some(251));
}

#[test]
fn a_position_that_moves_back_resets_the_commit_point_below_the_old_one() {
    // The input topic was deleted and re-created: offsets start again at 0.
    let mut tr = OffsetTracker::default();
    let id = tr.assign("t", 0, None);
    for o in 0..300 {
        tr.observe(id, o);
        tr.register(id, o, 0);
    }
    let stale = tr.register(id, 300, 1).unwrap();
    assert_eq!(tr.commit_list(None, false)[0].offset, 300);
    assert_eq!(tr.observe(id, 0), Moved::Rewound { from: 301, to: 0 });
    let tok = tr.register(id, 0, 1).unwrap();
    assert_eq!(tr.commit_point(id), Some(0));
    tr.ack(tok);
    assert_eq!(
        tr.commit_list(None, false)[0].offset,
        1,
        "the lower point is committed"
    );
    tr.ack(stale);
    assert_eq!(
        tr.commit_point(id),
        Some(1),
        "the old record's ack is ignored"
    );
}

#[test]
fn slots_are_reused_once_done() {
    let mut tr = OffsetTracker::default();
    let id = tr.assign("t", 0, None);
    for o in 0..10_000 {
        let tok = tr.register(id, o, 2).unwrap();
        tr.ack(tok);
        tr.ack(tok);
    }
    assert!(tr.slots.len() <= 2, "{} slots", tr.slots.len());
    assert_eq!(tr.in_flight(), 0);
}

#[test]
fn a_transaction_commits_every_processed_record_acknowledged_or_not() {
    let mut tr = OffsetTracker::default();
    let a = tr.assign("t", 0, Some(10));
    let b = tr.assign("t", 1, Some(5));
    assert!(tr.txn_offsets().is_empty(), "nothing processed yet");
    tr.register(a, 10, 1).unwrap();
    tr.register(a, 11, 0);
    assert_eq!(
        tr.txn_offsets(),
        vec![CommitEntry {
            topic: "t".into(),
            partition: 0,
            offset: 12
        }],
        "only partitions that processed a record, one past the last one"
    );
    tr.txn_committed();
    assert!(tr.txn_offsets().is_empty());
    tr.register(b, 5, 1);
    assert_eq!(tr.txn_offsets()[0].partition, 1);
}

#[test]
fn an_aborted_transaction_rewinds_to_where_it_started() {
    let mut tr = OffsetTracker::default();
    let a = tr.assign("t", 0, Some(10));
    let b = tr.assign("t", 1, None);
    tr.register(a, 10, 1);
    tr.txn_committed();
    let t1 = tr.register(a, 11, 2).unwrap();
    tr.register(a, 12, 1);
    tr.register(b, 40, 1);
    tr.ack(t1);
    let mut rewind = tr.txn_aborted();
    rewind.sort_by_key(|e| e.partition);
    let offsets: Vec<(i32, i64)> = rewind.iter().map(|e| (e.partition, e.offset)).collect();
    assert_eq!(offsets, vec![(0, 11), (1, 40)]);
    assert_eq!(tr.in_flight(), 0, "the aborted records are forgotten");
    assert!(tr.txn_offsets().is_empty());
    // Reprocessing from the rewind point is in order, not a rewind of the position.
    assert_eq!(tr.observe(a, 11), Moved::InOrder);
    assert_eq!(tr.observe(b, 40), Moved::InOrder);
    // The slots were freed: new records get tokens and commit normally.
    let t2 = tr.register(a, 11, 1).unwrap();
    tr.ack(t2);
    assert_eq!(tr.commit_point(a), Some(12));
}

#[test]
fn the_commit_point_steps_over_trailing_markers_once_every_output_is_acknowledged() {
    // Records 10 and 11, then a commit marker at 12: the consumer's position is 13.
    let mut tr = OffsetTracker::default();
    let id = tr.assign("t", 0, Some(10));
    tr.observe(id, 10);
    let a = tr.register(id, 10, 1).unwrap();
    tr.observe(id, 11);
    let b = tr.register(id, 11, 1).unwrap();
    tr.follow("t", 0, 13);
    assert_eq!(tr.commit_point(id), Some(10), "outputs are in flight");
    tr.ack(a);
    assert_eq!(tr.commit_point(id), Some(11));
    tr.ack(b);
    assert_eq!(tr.commit_point(id), Some(13), "past the marker");
    assert_eq!(tr.commit_list(None, false)[0].offset, 13);
    // The next record comes after another marker: reported as before, and followed.
    assert_eq!(tr.observe(id, 14), Moved::Skipped { from: 12, to: 14 });
    let c = tr.register(id, 14, 1).unwrap();
    assert_eq!(tr.commit_point(id), Some(14));
    tr.ack(c);
    assert_eq!(tr.commit_point(id), Some(15));
}

#[test]
fn a_partition_of_markers_alone_is_committed_past_them() {
    let mut tr = OffsetTracker::default();
    let resumed = tr.assign("t", 0, Some(7));
    let fresh = tr.assign("t", 1, None);
    tr.follow("t", 0, 9);
    tr.follow("t", 1, 2);
    tr.follow("t", 2, 5);
    assert_eq!(tr.commit_point(resumed), Some(9));
    assert_eq!(tr.commit_point(fresh), Some(2));
    assert_eq!(tr.commit_list(None, false).len(), 2, "no track for t[2]");
}

#[test]
fn the_position_is_not_followed_past_a_record_handed_over_but_not_processed() {
    // LogAndFail: the consumer handed over 11, which stops the run unregistered; the
    // position (12) must not be committed, or a restart would skip the record.
    let mut tr = OffsetTracker::default();
    let id = tr.assign("t", 0, Some(10));
    tr.observe(id, 10);
    tr.register(id, 10, 0);
    tr.handed_over(id, 11);
    tr.follow("t", 0, 12);
    assert_eq!(tr.commit_point(id), Some(11));
    assert_eq!(tr.commit_list(None, true)[0].offset, 11);
}

#[test]
fn a_position_at_or_behind_the_last_record_changes_nothing() {
    let mut tr = OffsetTracker::default();
    let id = tr.assign("t", 0, None);
    tr.observe(id, 5);
    tr.register(id, 5, 0);
    tr.follow("t", 0, 6);
    tr.follow("t", 0, 3);
    assert_eq!(tr.commit_point(id), Some(6));
    // A position taken past markers, then the topic re-created: the old one is forgotten.
    tr.follow("t", 0, 9);
    assert_eq!(tr.commit_point(id), Some(9));
    assert_eq!(tr.observe(id, 0), Moved::Rewound { from: 6, to: 0 });
    tr.register(id, 0, 0);
    assert_eq!(tr.commit_point(id), Some(1));
}

#[test]
fn a_transaction_commits_the_position_past_its_markers() {
    let mut tr = OffsetTracker::default();
    let a = tr.assign("t", 0, Some(10));
    let b = tr.assign("t", 1, Some(5));
    tr.observe(a, 10);
    tr.register(a, 10, 1).unwrap();
    // Outputs in flight do not hold a transaction's point back: its commit flushes them.
    tr.follow("t", 0, 12);
    let offsets: Vec<(i32, i64)> = tr
        .txn_offsets()
        .iter()
        .map(|e| (e.partition, e.offset))
        .collect();
    assert_eq!(offsets, vec![(0, 12)]);
    tr.txn_committed();
    assert!(tr.txn_offsets().is_empty());
    // Later only markers arrive on partition 1: its position alone is committed.
    tr.follow("t", 1, 6);
    let offsets: Vec<(i32, i64)> = tr
        .txn_offsets()
        .iter()
        .map(|e| (e.partition, e.offset))
        .collect();
    assert_eq!(offsets, vec![(1, 6)]);
    tr.txn_committed();
    assert!(tr.txn_offsets().is_empty());
    assert_eq!(tr.committed("t", 1), Some(6));
    assert_eq!(tr.commit_point(b), Some(6));
}

#[test]
fn an_abort_forgets_the_position_until_the_records_are_processed_again() {
    let mut tr = OffsetTracker::default();
    let a = tr.assign("t", 0, Some(10));
    for o in 10..13 {
        tr.observe(a, o);
        tr.register(a, o, 1);
    }
    tr.follow("t", 0, 14);
    let rewind = tr.txn_aborted();
    assert_eq!(rewind[0].offset, 10);
    // The consumer's position is stale until it is seeked and hands 10.. over again.
    tr.follow("t", 0, 14);
    assert!(
        tr.txn_offsets().is_empty(),
        "nothing processed since the abort"
    );
    assert_eq!(tr.commit_point(a), Some(10));
    for o in 10..13 {
        tr.observe(a, o);
        tr.register(a, o, 1);
    }
    tr.follow("t", 0, 14);
    assert_eq!(tr.txn_offsets()[0].offset, 14);
}
