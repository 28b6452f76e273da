//! `num.stream.threads`: several processing loops in one process, as Kafka Streams runs its
//! StreamThreads. Each loop is a whole [`run`] with its own consumer and producer in the
//! same group (so the group spreads the partitions over them); the loops share one stop
//! (the caller's flag, only read, and a halt of their own), so a signal, a fatal client
//! error or a `LogAndFail` record in any of them stops them all; their summaries add up. The counters they export are the process's, so
//! `/metrics` shows the sum already.

use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use tracing::info;

use super::run_loop::run_until;
use super::shared::Stop;
use super::{run, RunSummary, RuntimeConfig, StreamsError};
use crate::dsl::Topology;

/// Runs `config.num_stream_threads` loops of `topology` (one: [`run`] on this thread) until
/// `stop` is set or one of them fails; returns the combined summary or the first error.
///
/// With `exit_when_idle`, a loop that got no partition would never see a record to start
/// its idle clock: once the first loop stops for being idle, the others get the same idle
/// time again to finish, then are stopped.
pub fn run_stream_threads<X: Sync>(
    topology: &Topology<X>,
    config: &RuntimeConfig,
    stop: Arc<AtomicBool>,
) -> Result<RunSummary, StreamsError> {
    let n = config.num_stream_threads.max(1);
    if n == 1 {
        return run(topology, config, stop);
    }
    info!(num_stream_threads = n, "starting the stream threads");
    // The caller's flag is only read; the threads halt one another with their own.
    let group = Stop::with_halt(stop, Arc::default());
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let mut own = config.clone();
                own.stream_thread = Some(i);
                let stop = group.clone();
                let done = done_tx.clone();
                std::thread::Builder::new()
                    .name(format!("StreamThread-{}", i + 1))
                    .spawn_scoped(scope, move || {
                        let result = run_until(topology, &own, stop.clone());
                        if result.is_err() {
                            // One loop failing stops the others, as one StreamThread's
                            // fatal error shuts a Kafka Streams instance down.
                            stop.halt();
                        }
                        let _ = done.send(());
                        result
                    })
            })
            .collect();
        drop(done_tx);
        stop_the_rest_after_idle(&done_rx, &group, config.exit_when_idle);
        combine(handles.into_iter().map(|h| match h {
            Ok(h) => h.join().unwrap_or_else(|_| Err(panicked())),
            Err(e) => {
                group.halt();
                Err(StreamsError::ThreadStart(e))
            }
        }))
    })
}

fn panicked() -> StreamsError {
    StreamsError::ThreadPanicked
}

/// Waits for the first loop to return; with an idle timeout, stops the rest after it.
fn stop_the_rest_after_idle(done: &mpsc::Receiver<()>, stop: &Stop, idle: Option<Duration>) {
    let Some(idle) = idle else { return };
    if done.recv().is_err() {
        return;
    }
    while !stop.requested() {
        match done.recv_timeout(idle) {
            Ok(()) => continue,
            Err(mpsc::RecvTimeoutError::Timeout) => stop.halt(),
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Adds the loops' summaries (`busy`: the longest); the first error wins.
fn combine(
    results: impl Iterator<Item = Result<RunSummary, StreamsError>>,
) -> Result<RunSummary, StreamsError> {
    let mut total = RunSummary::default();
    let mut first_error = None;
    for r in results {
        match r {
            Ok(s) => {
                total.records_in += s.records_in;
                total.records_out += s.records_out;
                total.rejected += s.rejected;
                total.dead_letters += s.dead_letters;
                total.skipped_offsets += s.skipped_offsets;
                total.rewinds += s.rewinds;
                total.busy = total.busy.max(s.busy);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    fn rejected(topic: &str) -> crate::RejectedRecord {
        crate::RejectedRecord {
            topic: topic.into(),
            partition: 0,
            offset: 1,
            node: "KSTREAM-FILTER-0000000001".into(),
            reason: "invalid-json",
            detail: "expected value".into(),
        }
    }

    fn summary(records_in: u64, busy_ms: u64) -> RunSummary {
        RunSummary {
            records_in,
            records_out: records_in * 2,
            rejected: 1,
            busy: Duration::from_millis(busy_ms),
            ..Default::default()
        }
    }

    #[test]
    fn summaries_add_up_and_busy_is_the_longest() {
        let total = combine([Ok(summary(10, 50)), Ok(summary(5, 80))].into_iter()).unwrap();
        assert_eq!(total.records_in, 15);
        assert_eq!(total.records_out, 30);
        assert_eq!(total.rejected, 2);
        assert_eq!(total.busy, Duration::from_millis(80));
    }

    #[test]
    fn the_first_error_wins() {
        let e = combine(
            [
                Ok(summary(1, 1)),
                Err(StreamsError::BadRecord(rejected("a"))),
                Err(StreamsError::ThreadPanicked),
            ]
            .into_iter(),
        )
        .unwrap_err();
        assert!(matches!(e, StreamsError::BadRecord(r) if r == rejected("a")));
    }

    #[test]
    fn an_idle_loop_stops_the_others_after_the_idle_time() {
        let asked = Arc::new(AtomicBool::new(false));
        let stop = Stop::new(Arc::clone(&asked));
        let (tx, rx) = mpsc::channel();
        tx.send(()).unwrap();
        stop_the_rest_after_idle(&rx, &stop, Some(Duration::from_millis(20)));
        assert!(stop.requested());
        assert!(
            !asked.load(Ordering::Relaxed),
            "the caller's flag is not written"
        );
        let stop = Stop::new(Arc::clone(&asked));
        stop_the_rest_after_idle(&rx, &stop, None);
        assert!(!stop.requested());
    }
}
