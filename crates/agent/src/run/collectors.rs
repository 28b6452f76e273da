//! The collector threads: one per metricset of each module, each waiting a random start
//! delay, then fetching on its period (missed ticks are skipped, never caught up).

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use metricpipe_collect::ProcRoot;

use super::options::AgentOptions;
use super::publish::{cpu_fetch, memory_fetch, Shared};
use crate::config::{Metricset, ModuleConfig};
use crate::error::AgentError;

/// A stop request one set of threads waits on.
#[derive(Default)]
pub(crate) struct StopFlag {
    stop: Mutex<bool>,
    cv: Condvar,
}

impl StopFlag {
    pub(crate) fn raise(&self) {
        *self.stop.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cv.notify_all();
    }

    /// Sleep until `deadline`; true when asked to stop.
    pub(crate) fn sleep_until(&self, deadline: Instant) -> bool {
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
pub(crate) struct Collectors {
    pub(crate) modules: Vec<ModuleConfig>,
    stop: Arc<StopFlag>,
    pub(crate) threads: Vec<JoinHandle<()>>,
}

impl Collectors {
    pub(crate) fn start(
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

    pub(crate) fn stop(self) {
        self.stop.raise();
        for t in self.threads {
            if t.join().is_err() {
                tracing::error!("a collector thread panicked");
            }
        }
    }
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
