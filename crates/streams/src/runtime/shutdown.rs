//! The bounded stop: drain, final commit, leave the group, all within the shutdown
//! timeout whatever the brokers do.
//!
//! The drain gets two thirds of the timeout. The final commit and closing the clients
//! (leaving the group, destroying librdkafka's handles) run on a helper thread: with no
//! broker answering, a synchronous commit or a close can block for minutes, and then
//! the run returns at the deadline anyway, saying what was not done. What was not
//! committed is processed again by the next owner (at-least-once).

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use rdkafka::consumer::Consumer;

use super::commit::{CommitKind, CommitOutcome};
use super::lock;
use super::rebalance::StreamsConsumer;
use super::shared::Shared;
use super::sink::Sink;

enum Step {
    Committed(bool),
    Closed,
}

/// Drains, commits and closes; returns by `timeout` after being called.
pub fn finish(consumer: StreamsConsumer, sink: Arc<Sink>, shared: &Arc<Shared>, timeout: Duration) {
    let started = Instant::now();
    let deadline = started + timeout;
    info!(timeout = ?timeout, "stopping: draining in-flight outputs and committing");
    let drained = shared.is_fatal() || sink.drain(started + timeout * 2 / 3);
    // The revoke callback that closing triggers must not drain or commit again: the final
    // commit below covers every partition.
    *lock(&consumer.context().sink) = None;
    let (tx, rx) = mpsc::channel();
    let fatal = shared.is_fatal();
    let closer = std::thread::Builder::new()
        .name("streams-close".into())
        .spawn(move || {
            // After a fatal error the group is lost for this member: nothing to commit.
            let ok = !fatal
                && matches!(
                    sink.commit_before_leaving(&consumer, CommitKind::Final, None),
                    CommitOutcome::Committed | CommitOutcome::Nothing
                );
            let _ = tx.send(Step::Committed(ok));
            drop(consumer);
            drop(sink);
            let _ = tx.send(Step::Closed);
        });
    if closer.is_err() {
        warn!("could not start the closing thread; leaving without a final commit");
        return;
    }
    let mut committed = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Step::Committed(ok)) => committed = Some(ok),
            Ok(Step::Closed) => {
                info!(drained, committed = committed.unwrap_or(false), took = ?started.elapsed(), "streams stopped");
                return;
            }
            Err(_) => break,
        }
    }
    let undone = match committed {
        None => "the final commit (and leaving the group) did not finish",
        Some(false) => "the final commit failed and leaving the group did not finish",
        Some(true) => "committed, but leaving the group did not finish",
    };
    let in_flight = shared.state().tracker.in_flight();
    warn!(timeout = ?timeout, drained, records_in_flight = in_flight,
        "shutdown timeout reached: {undone}; what was not committed is processed again by the next owner");
}
