//! What the broker probe learns beyond "the brokers answered": refusals that waiting will
//! not cure (wrong password, untrusted certificate, missing ACL) make `/readyz` 503 at
//! once, with the cause and the setting to fix.

use std::sync::Mutex;
use std::time::Duration;

use metricpipe_kafka::access::{not_authorized_message, security_cause, topic_access, TopicAccess};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::ClientContext;

/// Keeps the last error librdkafka reported on its error callback.
#[derive(Default)]
pub(crate) struct LastError(Mutex<Option<String>>);

impl ClientContext for LastError {
    // The probe polls its queue to serve the error callback, and that also delivers
    // librdkafka's queued log lines. Connection failures are the command's own to report
    // (rate-limited); at error level here they would repeat at every probe interval.
    fn log(&self, _level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        tracing::debug!(facility = fac, "broker probe: librdkafka: {log_message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{error}: {reason}"));
    }
}

impl ConsumerContext for LastError {}

/// The cause of a failed metadata request, if the brokers refused us.
pub(crate) fn security_refusal(consumer: &BaseConsumer<LastError>) -> Option<String> {
    // Error callbacks are served by poll; the probe has no subscription, so nothing else
    // is consumed.
    let _ = consumer.poll(Duration::ZERO);
    let last = consumer
        .context()
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()?;
    security_cause(&last).map(|cause| format!("{cause} ({last})"))
}

/// The message for the first of `topics` this client may not describe.
pub(crate) fn refused_topic(
    consumer: &BaseConsumer<LastError>,
    topics: &[String],
    timeout: Duration,
) -> Option<String> {
    topics.iter().find_map(|t| {
        matches!(
            topic_access(consumer, t, timeout),
            Ok(TopicAccess::NotAuthorized)
        )
        .then(|| not_authorized_message(t))
    })
}
