//! Readiness: a handle the commands mark, and the broker probe that keeps it up to date.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{probe, Result, TelemetryError};

/// Whether this process can do its work, as `/readyz` reports it.
///
/// A handle is ready while its last success ([`Readiness::mark_ok`]) is younger than its
/// staleness limit; before the first success it is not ready. Clones share state, so the
/// Kafka code can hold one and the HTTP server another.
#[derive(Clone)]
pub struct Readiness {
    inner: Arc<ReadinessInner>,
}

struct ReadinessInner {
    stale_after: Duration,
    state: Mutex<ReadinessState>,
}

#[derive(Default)]
struct ReadinessState {
    last_ok: Option<Instant>,
    last_error: Option<String>,
    /// A refusal (credentials, certificate, ACL): unready at once, until the next success.
    blocked: Option<String>,
    forced: Option<bool>,
}

impl Readiness {
    /// A handle that is unready until [`mark_ok`](Self::mark_ok), and turns unready again
    /// `stale_after` past the last `mark_ok`.
    pub fn new(stale_after: Duration) -> Self {
        Readiness {
            inner: Arc::new(ReadinessInner {
                stale_after,
                state: Mutex::new(ReadinessState::default()),
            }),
        }
    }

    /// A handle that is always ready (a process with nothing to wait for).
    pub fn always() -> Self {
        let r = Readiness::new(Duration::MAX);
        r.set_forced(Some(true));
        r
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReadinessState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record a success now (e.g. the brokers answered).
    pub fn mark_ok(&self) {
        let mut s = self.lock();
        s.last_ok = Some(Instant::now());
        s.last_error = None;
        s.blocked = None;
    }

    /// Unready now with `reason` (the brokers refuse us: waiting will not help), until the
    /// next [`mark_ok`](Self::mark_ok).
    pub fn mark_blocked(&self, reason: impl Into<String>) {
        self.lock().blocked = Some(reason.into());
    }

    /// Record why the last attempt failed; the handle stays ready until the last success is stale.
    pub fn mark_error(&self, reason: impl Into<String>) {
        self.lock().last_error = Some(reason.into());
    }

    /// Override the computed state (`None` goes back to computing it), e.g. while shutting down.
    pub fn set_forced(&self, forced: Option<bool>) {
        self.lock().forced = forced;
    }

    /// Ready or not, with a one-line reason for people.
    pub fn status(&self) -> (bool, String) {
        let s = self.lock();
        if let Some(f) = s.forced {
            return (f, if f { "ready" } else { "not ready" }.into());
        }
        if let Some(reason) = &s.blocked {
            return (false, reason.clone());
        }
        let err = s.last_error.as_deref().unwrap_or("no answer yet");
        match s.last_ok {
            None => (false, format!("brokers not reached yet: {err}")),
            Some(t) => {
                let age = t.elapsed();
                if age <= self.inner.stale_after {
                    (
                        true,
                        format!("ready: brokers answered {}s ago", age.as_secs()),
                    )
                } else {
                    (
                        false,
                        format!("no broker answered for {}s: {err}", age.as_secs()),
                    )
                }
            }
        }
    }

    pub fn is_ready(&self) -> bool {
        self.status().0
    }
}

/// How [`probe_brokers`] asks the brokers.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Time between two metadata requests.
    pub interval: Duration,
    /// How long one metadata request may take.
    pub timeout: Duration,
    /// Unready this long after the last answer.
    pub unready_after: Duration,
    /// Extra librdkafka properties (security settings, say).
    pub client_properties: Vec<(String, String)>,
    /// Topics this process needs: one it may not describe (a missing ACL) makes it unready.
    pub topics: Vec<String>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
            unready_after: Duration::from_secs(30),
            client_properties: Vec::new(),
            topics: Vec::new(),
        }
    }
}

/// The longest wait between probes while no broker answers.
const PROBE_WAIT_MAX: Duration = Duration::from_secs(15);

/// The wait between probes: `interval`, doubled for each probe in a row that no broker
/// answered, up to [`PROBE_WAIT_MAX`]. A pending probe keeps librdkafka reconnecting to
/// every broker, which with all of them down was most of an idle agent's CPU; recovery is
/// still noticed within `PROBE_WAIT_MAX` plus the probe's timeout.
fn probe_wait(interval: Duration, unanswered: u32) -> Duration {
    interval
        .saturating_mul(1 << unanswered.min(8))
        .min(PROBE_WAIT_MAX.max(interval))
}

/// Start a thread that asks `bootstrap_servers` for cluster metadata every
/// [`ProbeOptions::interval`] (longer while no broker answers, see [`probe_wait`]) and keeps
/// the returned [`Readiness`] up to date. The thread ends when every clone of the handle is
/// dropped.
pub fn probe_brokers(bootstrap_servers: &str, opts: ProbeOptions) -> Result<Readiness> {
    use metricpipe_kafka::{ClientRole, ClientSettings};
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let cfg = ClientSettings::new(bootstrap_servers)
        .layer(opts.client_properties.iter().cloned())
        .client_config(
            ClientRole::Consumer,
            [
                // Come back quickly after an outage: the probe is what notices recovery.
                ("reconnect.backoff.max.ms", "2000"),
                ("log_level", "3"),
            ],
        );
    let consumer: BaseConsumer<probe::LastError> = cfg
        .create_with_context(probe::LastError::default())
        .map_err(|e| TelemetryError::Probe {
            bootstrap: bootstrap_servers.into(),
            detail: e.to_string(),
        })?;
    let readiness = Readiness::new(opts.unready_after);
    let weak = Arc::downgrade(&readiness.inner);
    std::thread::Builder::new()
        .name("broker-probe".into())
        .spawn(move || {
            let mut unanswered = 0;
            loop {
                let started = Instant::now();
                let result = consumer.fetch_metadata(None, opts.timeout);
                unanswered = if result.is_ok() { 0 } else { unanswered + 1 };
                let Some(inner) = weak.upgrade() else { return };
                let handle = Readiness { inner };
                match result {
                    Ok(md) if !md.brokers().is_empty() => {
                        match probe::refused_topic(&consumer, &opts.topics, opts.timeout) {
                            Some(reason) => handle.mark_blocked(reason),
                            None => handle.mark_ok(),
                        }
                        // The brokers answered: an error kept from before must not explain
                        // a later failure.
                        drop(probe::last_error(&consumer));
                    }
                    Ok(_) => handle.mark_error("the cluster reported no brokers"),
                    Err(e) => {
                        tracing::debug!(error = %e, "broker probe failed");
                        match probe::security_refusal(&consumer) {
                            Some(cause) => handle.mark_blocked(cause),
                            None => handle.mark_error(e.to_string()),
                        }
                    }
                }
                drop(handle);
                // librdkafka keeps every event it queues for this client until a poll
                // serves it; with every broker down they come faster than one a turn.
                probe::serve_events(&consumer);
                std::thread::sleep(
                    probe_wait(opts.interval, unanswered).saturating_sub(started.elapsed()),
                );
            }
        })
        .map_err(|source| TelemetryError::Thread {
            what: "broker probe",
            source,
        })?;
    Ok(readiness)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unanswered_probes_wait_longer_up_to_the_bound() {
        let waits: Vec<u64> = (0..6)
            .map(|n| probe_wait(Duration::from_secs(5), n).as_secs())
            .collect();
        assert_eq!(waits, [5, 10, 15, 15, 15, 15]);
        assert_eq!(
            probe_wait(Duration::from_secs(60), 3),
            Duration::from_secs(60),
            "a longer interval is kept as it is"
        );
    }
}
