pub mod agent;
pub mod allocator;
pub mod bench;
pub mod command_config;
pub mod demo;
pub mod loadgen;
pub mod local;
pub mod logging;
pub mod manual;
pub mod progress;
pub mod signals;
pub mod streams;
pub mod streams_config;
pub mod tail;
pub mod top;
pub mod topics;

/// Where a command finds Kafka when no flag or environment variable says otherwise: the
/// first node of `metricpipe local up`.
pub const LOCAL_BOOTSTRAP: &str = "127.0.0.1:9092";

/// The brokers to talk to, for every command that reads or writes topics. Spelled as Kafka's
/// own tools spell it (`--bootstrap-server`), with `--bootstrap-servers` (librdkafka's
/// `bootstrap.servers`) and `-b` (kcat's) accepted too.
#[derive(clap::Args, Clone, Debug)]
pub struct Brokers {
    /// Kafka bootstrap servers, comma-separated HOST:PORT
    #[arg(
        long = "bootstrap-server",
        short = 'b',
        visible_alias = "bootstrap-servers",
        value_name = "HOST:PORT,...",
        env = "METRICPIPE_BOOTSTRAP_SERVERS",
        default_value = LOCAL_BOOTSTRAP
    )]
    pub bootstrap_servers: String,
    /// Java client properties file, as Kafka's tools take (security.protocol,
    /// sasl.jaas.config, ssl.truststore.*, ...); see docs/SECURITY.md
    #[arg(long, value_name = "FILE", env = "METRICPIPE_COMMAND_CONFIG")]
    pub command_config: Option<std::path::PathBuf>,
}

impl Brokers {
    /// The librdkafka properties of `--command-config` (empty without it): the lowest
    /// precedence layer, under any `-X`.
    pub fn client_properties(&self) -> anyhow::Result<Vec<(String, String)>> {
        command_config::load(self.command_config.as_deref())
    }
}

/// The same flag for commands with no default cluster: `streams` (which may read the
/// servers from its config file) and `bench` (which starts a cluster of its own without it).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct OptionalBrokers {
    /// Kafka bootstrap servers, comma-separated HOST:PORT
    #[arg(
        long = "bootstrap-server",
        short = 'b',
        visible_alias = "bootstrap-servers",
        value_name = "HOST:PORT,..."
    )]
    pub bootstrap_servers: Option<String>,
}

/// True when every bootstrap server is a loopback address (`127.x.x.x`, `localhost`, `::1`)
/// and a local cluster made by `metricpipe local up` could therefore be the one meant.
pub fn is_local(bootstrap_servers: &str) -> bool {
    bootstrap_servers
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|server| {
            let host = match server.rsplit_once(':') {
                Some((host, port)) if port.parse::<u16>().is_ok() => host,
                _ => server,
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
}

/// Advice to append to "the brokers did not answer" errors: `metricpipe local status` only
/// when the brokers are on this machine, a generic check otherwise.
pub fn unreachable_hint(bootstrap_servers: &str) -> String {
    if is_local(bootstrap_servers) {
        "is the local cluster up (`metricpipe local status`, or start one with `metricpipe local up`)?".into()
    } else {
        format!("are the brokers running and reachable from here, and is {bootstrap_servers} their listener address?")
    }
}

/// Add the `metricpipe local` advice to an error that says the brokers did not answer, when
/// the brokers are on this machine; any other error, or remote brokers, pass unchanged.
pub fn with_local_hint(error: anyhow::Error, bootstrap_servers: &str) -> anyhow::Error {
    let unreachable = error.chain().any(|e| {
        matches!(
            e.downcast_ref::<metricpipe_admin::AdminError>(),
            Some(metricpipe_admin::AdminError::Unreachable { .. })
        ) || matches!(
            e.downcast_ref::<metricpipe_top::TopError>(),
            Some(metricpipe_top::TopError::Unreachable { .. })
        ) || matches!(
            e.downcast_ref::<metricpipe_loadgen::LoadgenError>(),
            Some(metricpipe_loadgen::LoadgenError::Undelivered { .. })
        )
    });
    if unreachable && is_local(bootstrap_servers) {
        anyhow::anyhow!(
            "{}. {}",
            logging::render_error(&error),
            capitalised(&unreachable_hint(bootstrap_servers))
        )
    } else {
        error
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_servers_are_local_and_others_are_not() {
        assert!(is_local("127.0.0.1:9092"));
        assert!(is_local("localhost:9092,127.0.0.1:9093"));
        assert!(is_local("[::1]:9092"));
        assert!(!is_local("kafka-1:9092"));
        assert!(!is_local("127.0.0.1:9092,10.0.0.5:9092"));
        assert!(!is_local("192.168.1.10:9092"));
    }

    #[test]
    fn only_an_unreachable_local_cluster_gets_the_local_advice() {
        let unreachable = || {
            anyhow::Error::new(metricpipe_admin::AdminError::Unreachable {
                bootstrap: "b".into(),
                timeout: std::time::Duration::from_secs(1),
                detail: "transport failure".into(),
            })
        };
        let local = with_local_hint(unreachable(), "127.0.0.1:9092");
        assert!(format!("{local:#}").contains("metricpipe local status"));
        let remote = with_local_hint(unreachable(), "kafka-1:9092");
        assert!(!format!("{remote:#}").contains("metricpipe local"));
        let other = with_local_hint(anyhow::anyhow!("bad flag"), "127.0.0.1:9092");
        assert!(!format!("{other:#}").contains("metricpipe local"));
    }

    #[test]
    fn the_unreachable_hint_mentions_metricpipe_local_only_for_local_brokers() {
        assert!(unreachable_hint("127.0.0.1:9092").contains("metricpipe local"));
        let remote = unreachable_hint("kafka-1:9092");
        assert!(!remote.contains("metricpipe local"), "{remote}");
        assert!(remote.contains("kafka-1:9092"), "{remote}");
    }
}
