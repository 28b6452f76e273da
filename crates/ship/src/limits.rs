//! The reader of the topics' size limits: a background thread that reads the
//! `max.message.bytes` of the topics written to and sets the sink's byte bound under the
//! smallest.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use metricpipe_admin::limits;

use crate::queue::Shared;
use crate::{SinkConfig, LIMITS_REFRESH};

/// The first wait after a read that got no answer, and after a refusal marks the limits
/// stale; it doubles with each unanswered read, up to [`LIMITS_REFRESH`].
const RETRY_FIRST: Duration = Duration::from_secs(5);

/// When the next read is due: at start, every [`LIMITS_REFRESH`], soon after a size
/// refusal, and with a doubling wait while the brokers do not answer, so a long outage
/// costs a read every ten minutes rather than one every few seconds.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Schedule {
    last_read: Option<Instant>,
    /// Reads in a row that got no answer.
    unanswered: u32,
}

impl Schedule {
    pub(crate) fn due(&self, now: Instant, stale: bool) -> bool {
        let Some(last) = self.last_read else {
            return true;
        };
        let since = now.saturating_duration_since(last);
        let retry = RETRY_FIRST
            .saturating_mul(1 << self.unanswered.saturating_sub(1).min(8))
            .min(LIMITS_REFRESH);
        since >= LIMITS_REFRESH || ((stale || self.unanswered > 0) && since >= retry)
    }

    pub(crate) fn read(&mut self, now: Instant, answered: bool) {
        self.last_read = Some(now);
        self.unanswered = if answered { 0 } else { self.unanswered + 1 };
    }
}

/// Starts the reader thread; it ends when the sink is dropped or closing. Brokers that do
/// not answer leave the bound as it is.
///
/// Each read starts an admin client and stops it after. One kept between reads was tried:
/// once every broker was down, its broker thread reconnected in a tight loop and took over
/// a quarter of a core (librdkafka 2.12.1), where a client per read costs nothing between
/// reads.
pub(crate) fn spawn_limits_reader(
    config: &SinkConfig,
    shared: &Arc<Shared>,
) -> std::io::Result<()> {
    let mut opts = metricpipe_admin::AdminOptions::new(config.hosts.join(","));
    opts.timeout = Duration::from_secs(10);
    opts.client_properties = config
        .properties
        .iter()
        .filter(|(k, _)| limits::is_connection_property(k))
        .cloned()
        .collect();
    let shared = Arc::downgrade(shared);
    std::thread::Builder::new()
        .name("kafka-limits".into())
        .spawn(move || {
            let mut schedule = Schedule::default();
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                if shared.closing.load(Ordering::Relaxed) {
                    return;
                }
                let stale = shared.limits_stale.load(Ordering::Relaxed);
                if !schedule.due(Instant::now(), stale) {
                    continue;
                }
                let topics = shared
                    .topics
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                if topics.is_empty() {
                    continue;
                }
                let names: Vec<&str> = topics.iter().map(String::as_str).collect();
                let found = limits::max_message_bytes(&opts, &names);
                schedule.read(Instant::now(), found.is_ok());
                let Ok(found) = found else { continue };
                shared.limits_stale.store(false, Ordering::Relaxed);
                if let Some(bound) = found.values().map(|l| limits::batch_size_under(*l)).min() {
                    apply_bound(&shared, bound);
                }
            }
        })
        .map(drop)
}

fn apply_bound(shared: &Shared, bound: usize) {
    let mut q = shared.lock();
    if q.limit_bound != bound {
        tracing::info!(
            batch_bytes = bound,
            "agent batches sized under the topics' max.message.bytes"
        );
    }
    q.limit_bound = bound;
    q.bound = bound;
    q.bound_generation += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unanswered_reads_back_off_to_the_refresh_period() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        assert!(s.due(t0, false), "the first read is due at once");
        let mut at = t0;
        let mut waits = Vec::new();
        for _ in 0..6 {
            s.read(at, false);
            let mut wait = Duration::ZERO;
            while !s.due(at + wait, false) {
                wait += Duration::from_secs(1);
            }
            waits.push(wait.as_secs());
            at += wait;
        }
        assert_eq!(waits, [5, 10, 20, 40, 80, 160]);
        for _ in 0..10 {
            s.read(at, false);
        }
        assert!(!s.due(at + LIMITS_REFRESH - Duration::from_secs(1), false));
        assert!(
            s.due(at + LIMITS_REFRESH, false),
            "never longer than the refresh period"
        );
    }

    #[test]
    fn an_answer_resets_the_wait_and_a_refusal_asks_again_soon() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        s.read(t0, false);
        s.read(t0, false);
        s.read(t0, true);
        assert!(!s.due(t0 + LIMITS_REFRESH - Duration::from_secs(1), false));
        assert!(s.due(t0 + LIMITS_REFRESH, false));
        assert!(!s.due(t0 + Duration::from_secs(4), true));
        assert!(
            s.due(t0 + RETRY_FIRST, true),
            "a stale bound is read again after 5 s"
        );
    }
}
