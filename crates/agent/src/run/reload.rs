//! Module reloading (`metricbeat.config.modules.reload.enabled`): a poller that restarts the
//! collectors when the modules.d files change (added, changed or removed), without touching
//! the output.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::collectors::{Collectors, StopFlag};
use super::options::{roots, AgentOptions};
use super::publish::Shared;
use crate::beatconf::modules_d::{stamps, FileStamp, ModulesGlob};
use crate::config::{load, ConfigSources};
use crate::error::AgentError;

/// The tracing target of this module's log lines, which `-d` selectors name.
pub const LOG_TARGET: &str = module_path!();

pub(crate) fn start_reloader(
    shared: &Arc<Shared>,
    collectors: &Arc<Mutex<Option<Collectors>>>,
    opts: &AgentOptions,
    glob: &ModulesGlob,
    sources: &ConfigSources,
) -> Result<(Arc<StopFlag>, JoinHandle<()>), AgentError> {
    let flag = Arc::new(StopFlag::default());
    let (shared, collectors, opts, glob, sources, stop) = (
        shared.clone(),
        collectors.clone(),
        opts.clone(),
        glob.clone(),
        sources.clone(),
        flag.clone(),
    );
    let handle = std::thread::Builder::new()
        .name("modules-reload".into())
        .spawn(move || {
            let period = glob.reload.unwrap_or(Duration::from_secs(10));
            // Compare with the files as they were read, not as they are when this thread
            // starts: a change in between must not go unnoticed.
            let mut last = opts.config.module_stamps.clone();
            while !stop.sleep_until(Instant::now() + period) {
                let now = stamps(&glob);
                if now != last {
                    last = reload(&shared, &collectors, &opts, &sources).unwrap_or(now);
                }
            }
        })
        .map_err(AgentError::Thread)?;
    Ok((flag, handle))
}

/// Load the configuration again and, when the module list changed, replace the collectors.
/// A file that does not load leaves the running modules as they are, as in Metricbeat.
/// Returns the stamps of the files read, when they loaded.
fn reload(
    shared: &Arc<Shared>,
    collectors: &Mutex<Option<Collectors>>,
    opts: &AgentOptions,
    sources: &ConfigSources,
) -> Option<Vec<FileStamp>> {
    let mut config = match load(sources) {
        Ok(c) => c,
        Err(error) => {
            tracing::error!(%error, "modules.d changed but does not load; keeping the running modules");
            return None;
        }
    };
    config.bind_hostfs(opts.cli_hostfs.as_deref());
    let read = Some(config.module_stamps.clone());
    let mut guard = collectors.lock().unwrap_or_else(|p| p.into_inner());
    if guard.as_ref().is_some_and(|c| c.modules == config.modules) {
        return read;
    }
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let mut next_opts = opts.clone();
    next_opts.config.modules = config.modules.clone();
    let roots = match roots(&next_opts) {
        Ok(r) => r,
        Err(error) => {
            tracing::error!(%error, "modules.d changed but a hostfs is unusable; keeping the running modules");
            return read;
        }
    };
    if let Some(old) = guard.take() {
        old.stop();
    }
    match Collectors::start(shared, &next_opts, config.modules, roots) {
        Ok(c) => {
            tracing::info!(metricsets = c.threads.len(), "modules.d reloaded");
            *guard = Some(c);
        }
        Err(error) => tracing::error!(%error, "restarting the collectors failed"),
    }
    read
}
