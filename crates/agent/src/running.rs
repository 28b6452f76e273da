//! The long-running agent: one collector thread per metricset, and, with
//! `metricbeat.config.modules.reload.enabled`, a poller that restarts the collectors when
//! the modules.d files change (added, changed or removed), without touching the output.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use metricpipe_collect::ProcRoot;

use crate::beatconf::modules_d::{stamps, FileStamp, ModulesGlob};
use crate::config::{load, ConfigSources, Metricset, ModuleConfig};
use crate::error::AgentError;
use crate::run::{
    cpu_fetch, finish, memory_fetch, roots, shared, AgentOptions, AgentStats, Shared,
};

/// A stop request one set of threads waits on.
#[derive(Default)]
struct StopFlag {
    stop: Mutex<bool>,
    cv: Condvar,
}

impl StopFlag {
    fn raise(&self) {
        *self.stop.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cv.notify_all();
    }

    /// Sleep until `deadline`; true when asked to stop.
    fn sleep_until(&self, deadline: Instant) -> bool {
        let mut stop = self.stop.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if *stop {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stop = self
                .cv
                .wait_timeout(stop, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

/// The collector threads of one module list.
struct Collectors {
    modules: Vec<ModuleConfig>,
    stop: Arc<StopFlag>,
    threads: Vec<JoinHandle<()>>,
}

impl Collectors {
    fn start(
        shared: &Arc<Shared>,
        opts: &AgentOptions,
        modules: Vec<ModuleConfig>,
        roots: Vec<ProcRoot>,
    ) -> Result<Collectors, AgentError> {
        let stop = Arc::new(StopFlag::default());
        let mut threads = Vec::new();
        for (module, root) in modules.iter().zip(roots) {
            for set in module.metricsets.clone() {
                let (shared, module, root) = (shared.clone(), module.clone(), root.clone());
                let stop = stop.clone();
                let delay = random_below(opts.config.max_start_delay);
                let window = opts.cpu_window;
                let handle = std::thread::Builder::new()
                    .name(format!("system-{}", set.name()))
                    .stack_size(256 * 1024)
                    .spawn(move || collect_loop(&shared, &stop, &module, &root, set, delay, window))
                    .map_err(AgentError::Thread)?;
                threads.push(handle);
            }
        }
        Ok(Collectors {
            modules,
            stop,
            threads,
        })
    }

    fn stop(self) {
        self.stop.raise();
        for t in self.threads {
            if t.join().is_err() {
                tracing::error!("a collector thread panicked");
            }
        }
    }
}

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
    pub fn stats_handle(&self) -> crate::beat_stats::StatsHandle {
        let clients = self
            .collectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, |c| c.threads.len());
        crate::beat_stats::StatsHandle::new(&self.shared, clients)
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

fn start_reloader(
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

fn random_below(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(fastrand_u64(nanos))
}

fn fastrand_u64(below: u64) -> u64 {
    // Start jitter needs no quality; the clock's nanoseconds are enough.
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs().rotate_left(17))
        .unwrap_or(0)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    seed % below.max(1)
}

fn collect_loop(
    shared: &Shared,
    stop: &StopFlag,
    module: &ModuleConfig,
    root: &ProcRoot,
    set: Metricset,
    delay: Duration,
    cpu_window: Duration,
) {
    if stop.sleep_until(Instant::now() + delay) {
        return;
    }
    let mut next = Instant::now();
    let mut prev = None;
    if set == Metricset::Cpu {
        // Metricbeat's first event averages since boot; ours spans a short window instead.
        prev = match root.cpu_sample() {
            Ok(s) => Some(s),
            Err(e) => {
                shared.collect_error("cpu", &e);
                None
            }
        };
        next += cpu_window;
    }
    loop {
        if stop.sleep_until(next) {
            return;
        }
        match set {
            Metricset::Memory => memory_fetch(shared, module, root),
            Metricset::Cpu => {
                prev = match prev {
                    Some(p) => cpu_fetch(shared, module, root, p).or(Some(p)),
                    None => root.cpu_sample().ok(),
                };
            }
        }
        let now = Instant::now();
        next += module.period;
        while next <= now {
            next += module.period;
        }
    }
}
