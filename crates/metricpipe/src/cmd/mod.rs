pub mod agent;
pub mod bench;
pub mod command_config;
pub mod demo;
pub mod loadgen;
pub mod local;
pub mod local_secured;
pub mod progress;
pub mod signals;
pub mod streams;
pub mod tail;
pub mod top;
pub mod topics;

/// The brokers to talk to, spelled as Kafka's own tools accept them (`--bootstrap-server`
/// too), so every command that reads or writes topics takes the same flag.
#[derive(clap::Args, Clone)]
pub struct Brokers {
    /// Kafka bootstrap servers, comma-separated
    #[arg(
        long,
        short = 'b',
        alias = "bootstrap-server",
        env = "METRICPIPE_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:9092"
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
