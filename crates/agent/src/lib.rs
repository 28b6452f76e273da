//! The metricpipe agent: a drop-in for Metricbeat's `system` module (cpu and memory
//! metricsets) shipping to Kafka or the console.
//!
//! - [`config::load`] reads metricbeat.yml files (dotted and nested keys alike, `-E key=value`
//!   overrides, through the go-ucfg layer in [`beatconf`]) once into an [`AgentConfig`],
//!   `logging` included. Settings metricpipe does not support become
//!   warnings that name them ([`AgentConfig::warnings`]); invalid values are errors that name
//!   the key ([`ConfigError::Invalid`]).
//! - [`RunningAgent::start`] runs one thread per metricset on its period and publishes to the
//!   output; [`RunningAgent::stop`] stops and flushes with a bound. [`run_once`] collects one
//!   event per metricset and returns.
//! - [`logging::install`] sets up Metricbeat's logging (rotated files, ECS JSON, `-d`
//!   selectors); [`probe::test_output`] is `agent test output`.
//!
//! The agent never stops collecting because of the output: the Kafka sink's queue is bounded
//! and drops the oldest events when full (see `metricpipe-ship`).

pub mod beatconf;
pub mod config;
mod error;
pub mod export;
mod host;
pub mod logging;
pub mod probe;
pub mod processors;
mod run;
mod security;
pub mod stats;
pub mod topic;

pub use config::{AgentConfig, ConfigSources, Metricset, ModuleConfig, OutputConfig};
pub use error::{AgentError, ConfigError};
pub use host::{agent_id, hostname};
pub use run::{run_once, AgentOptions, AgentStats, RunningAgent};
