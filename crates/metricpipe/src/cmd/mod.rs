pub mod agent;
pub mod bench;
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
}
