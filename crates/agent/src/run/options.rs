//! What the run loop is given: the decoded configuration and what only the command line
//! says.

use std::path::PathBuf;
use std::time::Duration;

use metricpipe_collect::ProcRoot;

use crate::config::{AgentConfig, ConfigSources};
use crate::error::AgentError;

/// How to run: the decoded config plus what only the command line says.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    pub config: AgentConfig,
    /// `-system.hostfs`: the root for modules without their own `hostfs`.
    pub cli_hostfs: Option<PathBuf>,
    /// The window a cpu measurement without a previous sample spans (`--once`, first event).
    pub cpu_window: Duration,
    /// Where `config` came from: with `metricbeat.config.modules.reload.enabled`, the agent
    /// loads these again when modules.d changes. `None` turns reloading off.
    pub reload_sources: Option<ConfigSources>,
}

impl AgentOptions {
    pub fn new(config: AgentConfig) -> Self {
        AgentOptions {
            config,
            cli_hostfs: None,
            cpu_window: Duration::from_secs(1),
            reload_sources: None,
        }
    }
}

pub(crate) fn roots(opts: &AgentOptions) -> Result<Vec<ProcRoot>, AgentError> {
    opts.config
        .modules
        .iter()
        .map(|m| {
            ProcRoot::new(AgentConfig::hostfs_for(m, opts.cli_hostfs.as_deref()))
                .map_err(AgentError::Collect)
        })
        .collect()
}
