//! What the broker probe learns beyond "the brokers answered": refusals that waiting will
//! not cure (wrong password, untrusted certificate, missing ACL) make `/readyz` 503 at
//! once, with the cause and the setting to fix.

use std::time::Duration;

pub(crate) use metricpipe_kafka::access::{last_error, security_refusal, serve_events, LastError};
use metricpipe_kafka::access::{not_authorized_message, topic_access, TopicAccess};
use rdkafka::consumer::BaseConsumer;

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
