//! The long-running agent: the collectors, the reloader when modules.d is watched, and the
//! output they share.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::collectors::{Collectors, StopFlag};
use super::options::{roots, AgentOptions};
use super::publish::{finish, shared, AgentStats, Shared};
use super::reload::start_reloader;
use crate::beatconf::modules_d::ModulesGlob;
use crate::error::AgentError;

/// A running agent. [`RunningAgent::stop`] stops the collectors and flushes the output.
pub struct RunningAgent {
    shared: Arc<Shared>,
    collectors: Arc<Mutex<Option<Collectors>>>,
    reloader: Option<(Arc<StopFlag>, JoinHandle<()>)>,
}

impl RunningAgent {
    /// Check the hostfs roots, open the output and start one thread per metricset. Each
    /// waits a random delay below `metricbeat.max_start_delay`, then fetches every period
    /// (missed ticks are skipped, never caught up). With module reloading on and
    /// `opts.reload_sources` set, modules.d is polled every `reload.period`.
    pub fn start(opts: &AgentOptions) -> Result<RunningAgent, AgentError> {
        let roots = roots(opts)?;
        let shared = shared(opts)?;
        let collectors = Collectors::start(&shared, opts, shared.config.modules.clone(), roots)?;
        tracing::info!(
            name = %shared.beat.name,
            agent_id = %shared.beat.id,
            metricsets = collectors.threads.len(),
            "agent started"
        );
        let collectors = Arc::new(Mutex::new(Some(collectors)));
        let reloader = match (&opts.config.modules_glob, &opts.reload_sources) {
            (
                Some(
                    glob @ ModulesGlob {
                        reload: Some(_), ..
                    },
                ),
                Some(sources),
            ) => Some(start_reloader(&shared, &collectors, opts, glob, sources)?),
            _ => None,
        };
        Ok(RunningAgent {
            shared,
            collectors,
            reloader,
        })
    }

    pub fn stats(&self) -> AgentStats {
        self.shared.stats()
    }

    /// Figures for Metricbeat's `/` and `/stats` endpoint documents; the handle does not
    /// keep the agent alive.
    pub fn stats_handle(&self) -> crate::stats::StatsHandle {
        let clients = self
            .collectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, |c| c.threads.len());
        crate::stats::StatsHandle::new(&self.shared, clients)
    }

    /// Stop collecting, then deliver what is queued for up to `flush_timeout`.
    pub fn stop(self, flush_timeout: Duration) -> Result<AgentStats, AgentError> {
        if let Some((flag, handle)) = self.reloader {
            flag.raise();
            let _ = handle.join();
        }
        let current = self
            .collectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(c) = current {
            c.stop();
        }
        let shared = Arc::try_unwrap(self.shared)
            .map_err(|_| AgentError::Internal("collectors still running"))?;
        finish(shared, flush_timeout)
    }
}
