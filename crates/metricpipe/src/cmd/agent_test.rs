//! `metricpipe agent test output`: reach every broker of output.kafka, one at a time, and
//! say per broker what worked, as Metricbeat's `test output` does. No event is written.
//!
//! With TLS or SASL configured, a refused handshake or login is named with the setting to
//! fix (`metricpipe_kafka::access::security_cause`), and a fixed topic the principal may
//! not use is named as a missing ACL, per broker.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use metricpipe_agent::config::OutputConfig;
use metricpipe_kafka::access::{self, LastError, TopicAccess};
use rdkafka::consumer::{BaseConsumer, Consumer};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Returns an error when any broker could not be reached.
pub fn test_output(output: &OutputConfig) -> anyhow::Result<()> {
    let kafka = match output {
        OutputConfig::Console { .. } => {
            println!("console: writes events to stdout... OK");
            return Ok(());
        }
        OutputConfig::Kafka(k) => k,
    };
    let mut failed = Vec::new();
    // A topic with field references depends on the event: only a fixed one is checked.
    let topic = kafka.topic.render(&Default::default()).ok();
    for host in &kafka.sink.hosts {
        println!("Kafka: {host}...");
        if let Err(e) = test_broker(host, &kafka.sink.properties, topic.as_deref()) {
            println!("  ERROR {e}");
            failed.push(host.clone());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} of {} brokers of output.kafka.hosts failed: {}",
            failed.len(),
            kafka.sink.hosts.len(),
            failed.join(", ")
        )
    }
}

fn test_broker(
    host: &str,
    properties: &[(String, String)],
    topic: Option<&str>,
) -> anyhow::Result<()> {
    print!("  parse host... ");
    let (name, port) = host
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .ok_or_else(|| anyhow::anyhow!("{host:?} is not host:port"))?;
    println!("OK");
    print!("  dns lookup... ");
    let addrs: Vec<_> = (name.trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|e| anyhow::anyhow!("resolving {name}: {e}"))?
        .collect();
    println!("OK");
    let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    println!("  addresses: {}", shown.join(", "));
    print!("  dial up... ");
    let addr = addrs
        .first()
        .ok_or_else(|| anyhow::anyhow!("{name} has no address"))?;
    TcpStream::connect_timeout(addr, TIMEOUT).map_err(|e| anyhow::anyhow!("{addr}: {e}"))?;
    println!("OK");
    println!("  security: {}", security_summary(properties));
    print!("  talk to server... ");
    let mut cfg = rdkafka::ClientConfig::new();
    cfg.set("bootstrap.servers", host).set("log_level", "3");
    for (k, v) in properties {
        cfg.set(k, v);
    }
    let consumer: BaseConsumer<LastError> = cfg.create_with_context(LastError::default())?;
    let metadata = consumer.fetch_metadata(None, TIMEOUT).map_err(|e| {
        // A refused handshake or login reads as a timeout; the error callback knows why.
        let Some(last) = access::last_error(&consumer) else {
            return anyhow::anyhow!("Kafka metadata request: {e}");
        };
        match access::security_cause(&last) {
            Some(cause) => anyhow::anyhow!("{cause} ({last})"),
            None => anyhow::anyhow!("Kafka metadata request: {e} ({last})"),
        }
    })?;
    println!("OK ({} brokers in the cluster)", metadata.brokers().len());
    if let Some(topic) = topic {
        print!("  topic {topic}... ");
        match access::topic_access(&consumer, topic, TIMEOUT) {
            Ok(TopicAccess::Present) => println!("OK"),
            Ok(TopicAccess::Missing) => {
                println!("WARN does not exist yet: events wait until it is created")
            }
            Ok(TopicAccess::NotAuthorized) => {
                anyhow::bail!("{}", access::not_authorized_message(topic))
            }
            Err(e) => anyhow::bail!("Kafka metadata request for {topic}: {e}"),
        }
    }
    Ok(())
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
