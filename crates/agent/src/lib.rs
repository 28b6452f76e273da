//! The metricpipe agent: a drop-in for Metricbeat's `system` module (cpu and memory
//! metricsets) shipping to Kafka or the console.
//!
//! - [`config::load`] reads metricbeat.yml files (dotted and nested keys alike, `-E key=value`
//!   overrides) into an [`AgentConfig`]. Settings metricpipe does not support become
//!   warnings that name them ([`AgentConfig::warnings`]); invalid values are errors that name
//!   the key ([`ConfigError::Invalid`]).
//! - [`RunningAgent::start`] runs one thread per metricset on its period and publishes to the
//!   output; [`RunningAgent::stop`] stops and flushes with a bound. [`run_once`] collects one
//!   event per metricset and returns.
//! - [`block_shutdown_signals`] and [`wait_for_shutdown_signal`] give the binary a
//!   thread-free SIGINT/SIGTERM wait.
//!
//! The agent never stops collecting because of the output: the Kafka sink's queue is bounded
//! and drops the oldest events when full (see `metricpipe-ship`).

pub mod beat_stats;
pub mod config;
pub mod export;
pub mod flag;
pub mod modules_d;
mod process;
pub mod processors;
mod run;
mod running;
mod security;
pub mod topic;
mod tree;

use std::path::PathBuf;

pub use config::{AgentConfig, ConfigSources, Metricset, ModuleConfig, OutputConfig};
pub use run::{
    agent_id, block_shutdown_signals, hostname, run_once, wait_for_shutdown_signal, AgentOptions,
    AgentStats,
};
pub use running::RunningAgent;

/// Configuration errors. Each names the file or the key, and what to write instead.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading config file {path}: {source}. Pass -c FILE, or --path.config DIR holding metricbeat.yml")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin} is not valid YAML: {detail}")]
    Yaml { origin: String, detail: String },
    #[error("-E {arg:?}: {detail}. Write overrides as key=value in Metricbeat's flag syntax, e.g. -E 'output.kafka.hosts=[\"kafka:9092\"]' or -E tags=a,b")]
    Override { arg: String, detail: String },
    #[error("{0}. Fix the file's permissions or pass --strict.perms=false")]
    Perms(String),
    #[error("invalid setting `{key}`: {detail}")]
    Invalid { key: String, detail: String },
}

/// Errors of starting or running the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Collect(metricpipe_collect::CollectError),
    #[error(transparent)]
    Ship(metricpipe_ship::ShipError),
    #[error("starting a collector thread failed: {0}")]
    Thread(#[source] std::io::Error),
    #[error("internal error: {0}")]
    Internal(&'static str),
}
