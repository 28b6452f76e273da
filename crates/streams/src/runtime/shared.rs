//! State shared by the run loop and the librdkafka callbacks (which run on the loop's
//! thread, inside `poll`, so the locks are never contended), and the client error policy.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use metricpipe_kafka::{classify_code, is_unreachable, ErrorClass};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tracing::{debug, error, warn};

use super::offsets::{DeliveryToken, OffsetTracker};
use super::{lock, RejectedRecord, StreamsError};

/// Logs at most once per period; counts what it swallowed.
pub struct RateLimit {
    period: Duration,
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl RateLimit {
    pub fn new(period: Duration) -> Self {
        RateLimit {
            period,
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(suppressed since the last line)` when a line may be logged now.
    pub fn check(&self) -> Option<u64> {
        let mut last = lock(&self.last);
        let now = Instant::now();
        match *last {
            Some(t) if now.duration_since(t) < self.period => {
                self.suppressed.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => {
                *last = Some(now);
                Some(self.suppressed.swap(0, Ordering::Relaxed))
            }
        }
    }
}

/// When a run stops: the caller's flag (read, never written: the library returns instead),
/// or the run's own halt (a fatal client error, a `LogAndFail` record, a sibling stream
/// thread that failed).
#[derive(Debug, Clone, Default)]
pub struct Stop {
    asked: Arc<AtomicBool>,
    halted: Arc<AtomicBool>,
}

impl Stop {
    /// Watches the caller's `asked`, with a halt of its own.
    pub fn new(asked: Arc<AtomicBool>) -> Self {
        Stop {
            asked,
            halted: Arc::default(),
        }
    }

    /// The same caller's flag, and `halted` shared with others (the stream threads of
    /// one process stop together).
    pub fn with_halt(asked: Arc<AtomicBool>, halted: Arc<AtomicBool>) -> Self {
        Stop { asked, halted }
    }

    pub fn requested(&self) -> bool {
        self.asked.load(Ordering::Relaxed) || self.halted.load(Ordering::Relaxed)
    }

    /// Stops the run (and those sharing the halt), leaving the caller's flag alone.
    pub fn halt(&self) {
        self.halted.store(true, Ordering::Relaxed);
    }
}

/// A delivery that failed after librdkafka's retries; its opaque is the output's token.
pub type Failed = crate::oversize::Refused<DeliveryToken>;

/// What the run loop and the client callbacks both change, behind one lock: the
/// callbacks run on the loop's thread inside `poll`, so a guard must never be held across
/// a poll, a send or a call that takes it again ([`Shared::fatal`], [`Shared::is_fatal`]).
#[derive(Default)]
pub struct RunState {
    pub tracker: OffsetTracker,
    /// Deliveries that failed after librdkafka's retries, for the sink to deal with.
    pub failed: Vec<Failed>,
    /// The first fatal client error ([`StreamsError::Fatal`]).
    pub fatal: Option<StreamsError>,
    /// A record rejected under `LogAndFail`.
    pub failed_record: Option<RejectedRecord>,
}

pub struct Shared {
    pub bootstrap: String,
    state: Mutex<RunState>,
    /// Whether to stop the run loop (the caller's flag, or a halt: a fatal error).
    pub stop: Stop,
    pub broker_trouble: RateLimit,
    pub librdkafka_log: RateLimit,
    pub delivery_trouble: RateLimit,
}

impl Shared {
    pub fn new(bootstrap: String, stop: Stop) -> Self {
        Shared {
            bootstrap,
            state: Mutex::new(RunState::default()),
            stop,
            broker_trouble: RateLimit::new(Duration::from_secs(30)),
            librdkafka_log: RateLimit::new(Duration::from_secs(30)),
            delivery_trouble: RateLimit::new(Duration::from_secs(10)),
        }
    }

    /// The run's state; see [`RunState`] for when the guard may be held.
    pub fn state(&self) -> MutexGuard<'_, RunState> {
        lock(&self.state)
    }

    /// A client is unusable for good: remember why and stop the loop. A restart gets
    /// fresh clients; nothing past the last commit point is committed, so nothing is lost.
    pub fn fatal(&self, client: &'static str, code: RDKafkaErrorCode, reason: &str) {
        let mut state = self.state();
        if state.fatal.is_none() {
            error!(client, %code, reason, "fatal Kafka client error; stopping");
            metrics::counter!(metricpipe_telemetry::catalog::STREAMS_FATAL_ERRORS_TOTAL, "code" => format!("{code:?}"))
                .increment(1);
            state.fatal = Some(StreamsError::Fatal {
                client,
                code,
                reason: reason.into(),
            });
        }
        drop(state);
        self.stop.halt();
    }

    pub fn is_fatal(&self) -> bool {
        self.state().fatal.is_some()
    }

    /// The error callback of both clients: fatal errors stop the run, the rest is logged
    /// once per 30 s.
    pub fn client_error(&self, client: &'static str, error: &KafkaError, reason: &str) {
        let code = error.rdkafka_error_code();
        // librdkafka's reason for `ERR__FATAL` names the underlying error, e.g. "Fatal
        // error: Broker: Static consumer fenced by other consumer with same
        // group.instance.id".
        if let Some(code) = code.filter(|&c| classify_code(c) == ErrorClass::Fatal) {
            return self.fatal(client, code, reason);
        }
        let Some(suppressed) = self.broker_trouble.check() else {
            return;
        };
        // Refused credentials, certificates or ACLs: say which setting to fix.
        if let Some(cause) = metricpipe_kafka::access::security_cause(&format!("{error}: {reason}"))
        {
            error!(%error, reason, suppressed, "{cause}; still retrying (one line per 30 s)");
            return;
        }
        if code.is_some_and(is_unreachable) {
            warn!(bootstrap = %self.bootstrap, %error, reason, suppressed,
                "cannot reach Kafka; still retrying (one line per 30 s)");
        } else {
            warn!(%error, reason, suppressed, "Kafka client error; still running (one line per 30 s)");
        }
    }

    /// librdkafka's own lines go to debug: connection trouble already reaches the error
    /// callback, and the rest is noise for an operator. Its critical lines are shown,
    /// rate-limited.
    pub fn client_log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
                if let Some(suppressed) = self.librdkafka_log.check() {
                    warn!(facility = fac, suppressed, "librdkafka: {message}");
                }
            }
            _ => debug!(facility = fac, "librdkafka: {message}"),
        }
    }
}
