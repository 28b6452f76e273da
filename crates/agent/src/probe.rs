//! `agent test output`: reach every broker of output.kafka, one at a time, and say per
//! broker what worked, as Metricbeat's `test output` does. No event is written.
//!
//! With TLS or SASL configured, a refused handshake or login is named with the setting to
//! fix (`metricpipe_kafka::access::security_cause`), and a fixed topic the principal may
//! not use is named as a missing ACL, per broker.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use metricpipe_kafka::access::{self, LastError, TopicAccess};
use metricpipe_kafka::{ClientRole, ClientSettings};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;

use crate::config::OutputConfig;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Why `agent test output` failed.
#[derive(Debug, thiserror::Error)]
pub enum TestOutputError {
    #[error("{failed} of {total} brokers of output.kafka.hosts failed: {}", hosts.join(", "))]
    Brokers {
        failed: usize,
        total: usize,
        hosts: Vec<String>,
    },
    #[error("writing the report: {0}")]
    Write(#[from] std::io::Error),
}

/// Why one broker failed its check; printed after `ERROR`.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("{0:?} is not host:port")]
    NotHostPort(String),
    #[error("resolving {name}: {source}")]
    Resolve {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} has no address")]
    NoAddress(String),
    #[error("{addr}: {source}")]
    Dial {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Client(#[from] KafkaError),
    /// The brokers refused the handshake or the login: `cause` names the setting to fix.
    #[error("{cause} ({last})")]
    Refused { cause: String, last: String },
    #[error("Kafka metadata request: {source}{}", last.as_deref().map(|l| format!(" ({l})")).unwrap_or_default())]
    Metadata {
        #[source]
        source: KafkaError,
        /// The first error librdkafka reported on the way, when it did.
        last: Option<String>,
    },
    #[error("{}", access::not_authorized_message(.0))]
    TopicNotAuthorized(String),
    #[error("Kafka metadata request for {topic}: {source}")]
    TopicMetadata {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error(transparent)]
    Write(#[from] std::io::Error),
}

/// Check `output` and write the report to `out`: for Kafka, each broker's steps (parse,
/// DNS, TCP, security, a metadata request, the fixed topic's access) with `OK`, `WARN` or
/// `ERROR` and why.
///
/// # Errors
/// [`TestOutputError::Brokers`] when any broker failed; [`TestOutputError::Write`] when
/// `out` refused the report.
pub fn test_output(output: &OutputConfig, out: &mut impl Write) -> Result<(), TestOutputError> {
    let kafka = match output {
        OutputConfig::Console { .. } => {
            writeln!(out, "console: writes events to stdout... OK")?;
            return Ok(());
        }
        OutputConfig::Kafka(k) => k,
    };
    let mut failed = Vec::new();
    // A topic with field references depends on the event: only a fixed one is checked.
    let topic = kafka.topic.render(&Default::default()).ok();
    for host in &kafka.sink.hosts {
        writeln!(out, "Kafka: {host}...")?;
        if let Err(e) = test_broker(out, host, &kafka.sink.properties, topic.as_deref()) {
            writeln!(out, "  ERROR {e}")?;
            failed.push(host.clone());
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(TestOutputError::Brokers {
        failed: failed.len(),
        total: kafka.sink.hosts.len(),
        hosts: failed,
    })
}

fn test_broker(
    out: &mut impl Write,
    host: &str,
    properties: &[(String, String)],
    topic: Option<&str>,
) -> Result<(), BrokerError> {
    write!(out, "  parse host... ")?;
    let (name, port) = host
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .ok_or_else(|| BrokerError::NotHostPort(host.to_string()))?;
    writeln!(out, "OK")?;
    write!(out, "  dns lookup... ")?;
    let addrs: Vec<_> = (name.trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|source| BrokerError::Resolve {
            name: name.to_string(),
            source,
        })?
        .collect();
    writeln!(out, "OK")?;
    let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    writeln!(out, "  addresses: {}", shown.join(", "))?;
    write!(out, "  dial up... ")?;
    let addr = *addrs
        .first()
        .ok_or_else(|| BrokerError::NoAddress(name.to_string()))?;
    TcpStream::connect_timeout(&addr, TIMEOUT)
        .map_err(|source| BrokerError::Dial { addr, source })?;
    writeln!(out, "OK")?;
    writeln!(out, "  security: {}", security_summary(properties))?;
    write!(out, "  talk to server... ")?;
    let consumer = client(host, properties)?;
    let metadata = consumer
        .fetch_metadata(None, TIMEOUT)
        .map_err(|source| metadata_error(&consumer, source))?;
    writeln!(
        out,
        "OK ({} brokers in the cluster)",
        metadata.brokers().len()
    )?;
    if let Some(topic) = topic {
        write!(out, "  topic {topic}... ")?;
        match access::topic_access(&consumer, topic, TIMEOUT) {
            Ok(TopicAccess::Present) => writeln!(out, "OK")?,
            Ok(TopicAccess::Missing) => writeln!(
                out,
                "WARN does not exist yet: events wait until it is created"
            )?,
            Ok(TopicAccess::NotAuthorized) => {
                return Err(BrokerError::TopicNotAuthorized(topic.to_string()))
            }
            Err(source) => {
                return Err(BrokerError::TopicMetadata {
                    topic: topic.to_string(),
                    source,
                })
            }
        }
    }
    Ok(())
}

/// A consumer on this one broker with output.kafka's properties. Its `client.id` is
/// librdkafka's default, and librdkafka logs at the level the tracing subscriber enables
/// for target `librdkafka`, as an rdkafka client does unless told otherwise.
fn client(
    host: &str,
    properties: &[(String, String)],
) -> Result<BaseConsumer<LastError>, KafkaError> {
    let settings = ClientSettings::new(host).layer(properties.iter().cloned());
    let mut cfg = settings.config(ClientRole::Consumer, "rdkafka", &[("log_level", "3")]);
    cfg.set_log_level(subscriber_log_level());
    cfg.create_with_context(LastError::default())
}

fn subscriber_log_level() -> RDKafkaLogLevel {
    use tracing::Level;
    if tracing::enabled!(target: "librdkafka", Level::DEBUG) {
        RDKafkaLogLevel::Debug
    } else if tracing::enabled!(target: "librdkafka", Level::INFO) {
        RDKafkaLogLevel::Info
    } else if tracing::enabled!(target: "librdkafka", Level::WARN) {
        RDKafkaLogLevel::Warning
    } else {
        RDKafkaLogLevel::Error
    }
}

/// A refused handshake or login reads as a timeout; the error callback knows why.
fn metadata_error(consumer: &BaseConsumer<LastError>, source: KafkaError) -> BrokerError {
    let Some(last) = access::last_error(consumer) else {
        return BrokerError::Metadata { source, last: None };
    };
    match access::security_cause(&last) {
        Some(cause) => BrokerError::Refused { cause, last },
        None => BrokerError::Metadata {
            source,
            last: Some(last),
        },
    }
}

/// One line on what protects the connection, from the librdkafka properties (no secret).
fn security_summary(properties: &[(String, String)]) -> String {
    let get = |key: &str| {
        properties
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let protocol = get("security.protocol").unwrap_or("plaintext");
    let mut parts = vec![protocol.to_ascii_uppercase()];
    if let Some(user) = get("sasl.username") {
        let mechanism = get("sasl.mechanism").unwrap_or("PLAIN");
        parts.push(format!("{mechanism} as {user}"));
    }
    if get("ssl.certificate.location").is_some() || get("ssl.certificate.pem").is_some() {
        parts.push("client certificate".into());
    }
    if get("enable.ssl.certificate.verification") == Some("false") {
        parts.push("server certificate NOT verified".into());
    }
    parts.join(", ")
}
