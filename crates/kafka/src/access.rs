//! Telling "this topic does not exist" from "this client may not see it".
//!
//! A metadata request for all topics leaves out the topics the principal may not
//! describe, so a missing topic and a missing ACL look the same there. A request naming
//! the topic tells them apart: the broker answers `TOPIC_AUTHORIZATION_FAILED` for the
//! second (Kafka's `KafkaApis` metadata handling, with auto-creation off).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaRespErr;

/// What a metadata request naming one topic says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicAccess {
    Present,
    Missing,
    /// `TOPIC_AUTHORIZATION_FAILED`: the principal has no ACL that lets it describe it.
    NotAuthorized,
}

/// Ask the brokers about `topic` by name; `Err` when they did not answer.
pub fn topic_access<C: ConsumerContext, K: Consumer<C>>(
    client: &K,
    topic: &str,
    timeout: Duration,
) -> Result<TopicAccess, KafkaError> {
    let md = client.fetch_metadata(Some(topic), timeout)?;
    let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
        return Ok(TopicAccess::Missing);
    };
    Ok(match t.error() {
        None => TopicAccess::Present,
        Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) => {
            TopicAccess::NotAuthorized
        }
        Some(_) => TopicAccess::Missing,
    })
}

/// The one log line for a topic this client may not use.
pub fn not_authorized_message(topic: &str) -> String {
    format!(
        "not authorized for topic {topic} (TOPIC_AUTHORIZATION_FAILED): the brokers refuse this client's principal; grant it ACLs on the topic (Read to consume, Write to produce) and Read on its consumer group, or fix the user in the security settings (sasl.jaas.config / username, or the client certificate); see docs/SECURITY.md"
    )
}

/// A one-line cause for an authentication or TLS failure reported by librdkafka's error
/// callback, naming the setting to fix; `None` for other errors.
pub fn security_cause(reason: &str) -> Option<String> {
    let r = reason.to_ascii_lowercase();
    let cause = if r.contains("invalid credentials") || r.contains("authentication failed") {
        "SASL authentication failed: wrong username or password (sasl.jaas.config / username, password)"
    } else if r.contains("unsupported sasl mechanism") || r.contains("unsupported mechanism") {
        "the brokers do not enable this SASL mechanism (sasl.mechanism)"
    } else if r.contains("certificate verify failed") && r.contains("hostname") {
        "the broker certificate does not name the host connected to (ssl.endpoint.identification.algorithm / verification_mode)"
    } else if r.contains("certificate has expired") {
        "a certificate has expired (ssl.truststore / certificate_authorities, or the client certificate)"
    } else if r.contains("certificate verify failed") {
        "the broker certificate is not signed by a trusted CA (ssl.truststore.location / ssl.certificate_authorities)"
    } else if r.contains("certificate required")
        || r.contains("alert bad certificate")
        || r.contains("alert unknown ca")
    {
        "the brokers refuse the client certificate, missing or not signed by a CA they trust (mutual TLS): set ssl.certificate and ssl.key, or ssl.keystore.location"
    } else if r.contains("ssl handshake failed") || r.contains("ssl transport error") {
        "the TLS handshake failed: check security.protocol (SSL vs PLAINTEXT) and the client certificate"
    } else if r.contains("cluster authorization failed") {
        "not authorized on the cluster (CLUSTER_AUTHORIZATION_FAILED): an idempotent producer needs Write on a topic or IdempotentWrite on the cluster"
    } else if r.contains("group authorization failed") {
        "not authorized for the consumer group (GROUP_AUTHORIZATION_FAILED): grant Read on the group"
    } else if r.contains("topic authorization failed") {
        "not authorized for a topic (TOPIC_AUTHORIZATION_FAILED): grant Read/Write on it"
    } else {
        return None;
    };
    Some(cause.to_string())
}

/// A client context that keeps the first error librdkafka reported (on its error callback,
/// or a connection's failure in its log) since [`last_error`] last took it, for checks (the
/// broker probe, `agent test output`) that ask "why did that request fail?" after the fact.
/// The first, not the newest: while every broker is down each failed reconnection is
/// followed by an `ALL_BROKERS_DOWN` error that says nothing of why, where the first says
/// "wrong password" or "connection refused". librdkafka's own log lines go to debug.
#[derive(Default)]
pub struct LastError {
    last: std::sync::Mutex<Option<String>>,
    /// Log lines and errors served so far: tells [`serve_events`] when the queue is empty.
    served: AtomicU64,
}

impl LastError {
    /// Log lines and errors served by this client's polls so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

impl rdkafka::ClientContext for LastError {
    // Served by the same polls as the error callback; connection failures are the
    // command's own to report, at error level they would repeat at every probe.
    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.served.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(facility = fac, "librdkafka: {log_message}");
        // A connection's failure (facility FAIL) carries the TLS alert, e.g. the broker's
        // "bad certificate" for a missing client certificate, which the error callback
        // may report only later or only as a transport failure.
        if fac == "FAIL" {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_none() {
                *last = Some(log_message.to_string());
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.served.fetch_add(1, Ordering::Relaxed);
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| format!("{error}: {reason}"));
    }
}

impl ConsumerContext for LastError {}

/// The cause of a failed request, if the brokers refused us (credentials, certificate,
/// ACL): [`security_cause`] of the last reported error, followed by librdkafka's text.
pub fn security_refusal(consumer: &rdkafka::consumer::BaseConsumer<LastError>) -> Option<String> {
    let last = last_error(consumer)?;
    security_cause(&last).map(|cause| format!("{cause} ({last})"))
}

/// The first error librdkafka reported since the last call, taken, after serving every
/// event queued for the client ([`serve_events`]).
pub fn last_error(consumer: &rdkafka::consumer::BaseConsumer<LastError>) -> Option<String> {
    serve_events(consumer);
    consumer
        .context()
        .last
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
}

/// Serves every log line and error librdkafka has queued for a client without a
/// subscription, without waiting; the first error stays for [`last_error`].
///
/// A long-lived client must call it every turn: while every broker is down librdkafka
/// queues an `ALL_BROKERS_DOWN` error each time a reconnection fails, faster than one per
/// turn of the broker probe, and keeps whatever no poll serves, so a probe that served one
/// event per turn grew without bound. `poll(0)` serves at most one event, so it is called
/// until one serves nothing (at most 10,000 times: a backlog left over waits for the next
/// call).
pub fn serve_events(consumer: &rdkafka::consumer::BaseConsumer<LastError>) {
    // A client without a subscription consumes nothing: what poll returns is an error
    // the context has already kept.
    serve_until_idle(
        || drop(consumer.poll(Duration::ZERO)),
        || consumer.context().served(),
    );
}

/// Calls `poll_once` (a `poll(0)`, which serves at most one event) until a call leaves
/// `served` (the count the client's callbacks keep of every event kind they receive)
/// unchanged, at most 10,000 times: a backlog left over waits for the next call. The one
/// loop of every long-lived client that must not leave events in librdkafka's queue.
pub fn serve_until_idle(mut poll_once: impl FnMut(), served: impl Fn() -> u64) {
    for _ in 0..10_000 {
        let before = served();
        poll_once();
        if served() == before {
            break;
        }
    }
}

/// True at most once per 30 s in this process: the rate of refusal log lines.
pub fn log_refusal_now() -> bool {
    use std::sync::Mutex;
    use std::time::Instant;
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    let due = match *last {
        None => true,
        Some(t) => t.elapsed() >= Duration::from_secs(30),
    };
    if due {
        *last = Some(Instant::now());
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::consumer::BaseConsumer;
    use rdkafka::ClientConfig;

    /// No broker: a client whose bootstrap is a closed port queues a log line, an error
    /// and `ALL_BROKERS_DOWN` as its connections fail.
    #[test]
    fn serve_events_serves_the_whole_queue() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let consumer: BaseConsumer<LastError> = ClientConfig::new()
            .set("bootstrap.servers", format!("127.0.0.1:{port}"))
            .set("reconnect.backoff.ms", "10")
            .set("reconnect.backoff.max.ms", "50")
            .set("log_level", "3")
            .create_with_context(LastError::default())
            .expect("a client");
        // Several connections fail meanwhile; nothing serves their events yet.
        std::thread::sleep(Duration::from_secs(2));
        serve_events(&consumer);
        let served = consumer.context().served();
        assert!(
            served > 1,
            "one call serves every queued event, not one: {served}"
        );
        // The first error says why; the ALL_BROKERS_DOWN errors after it do not.
        let first = last_error(&consumer).unwrap_or_default();
        assert!(first.contains("Connection refused"), "{first}");
    }

    #[test]
    fn librdkafka_reasons_map_to_the_setting_to_fix() {
        for (reason, want) in [
            ("sasl_ssl://127.0.0.1:9092/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512", "password"),
            ("SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly configured", "trusted CA"),
            ("Fatal error: Broker: Cluster authorization failed: Failed to acquire idempotence PID", "IdempotentWrite"),
            ("Broker: Group authorization failed", "Read on the group"),
            ("ssl://127.0.0.1:9092/bootstrap: SSL transport error: error:0A00045C:SSL routines::tlsv13 alert certificate required: SSL alert number 116", "ssl.certificate and ssl.key"),
            ("ssl://127.0.0.1:37211/bootstrap: Receive failed: ../ssl/record/rec_layer_s3.c:1601:ssl3_read_bytes error:0A000412:SSL routines::sslv3 alert bad certificate: SSL alert number 42 (after 4ms in state APIVERSION_QUERY)", "client certificate"),
        ] {
            let cause = security_cause(reason).unwrap_or_default();
            assert!(cause.contains(want), "{reason} -> {cause}");
        }
        assert_eq!(security_cause("Connection refused"), None);
    }
}
