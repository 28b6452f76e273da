//! The agent's error types: configuration errors that name the file or the key, and the
//! errors of starting or running the agent.

use std::path::PathBuf;

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
