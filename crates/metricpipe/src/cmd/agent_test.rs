//! `metricpipe agent test output`: reach every broker of output.kafka, one at a time, and
//! say per broker what worked, as Metricbeat's `test output` does. No event is written.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use metricpipe_agent::config::OutputConfig;
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
    for host in &kafka.sink.hosts {
        println!("Kafka: {host}...");
        if let Err(e) = test_broker(host, &kafka.sink.properties) {
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

fn test_broker(host: &str, properties: &[(String, String)]) -> anyhow::Result<()> {
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
    print!("  talk to server... ");
    let mut cfg = rdkafka::ClientConfig::new();
    cfg.set("bootstrap.servers", host).set("log_level", "3");
    for (k, v) in properties {
        cfg.set(k, v);
    }
    let consumer: BaseConsumer = cfg.create()?;
    let metadata = consumer
        .fetch_metadata(None, TIMEOUT)
        .map_err(|e| anyhow::anyhow!("Kafka metadata request: {e}"))?;
    println!("OK ({} brokers in the cluster)", metadata.brokers().len());
    Ok(())
}
