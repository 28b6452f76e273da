//! `--once`: one event per metricset, then flush and return.

use std::sync::Arc;
use std::time::Duration;

use super::options::{roots, AgentOptions};
use super::publish::{cpu_fetch, finish, memory_fetch, shared, AgentStats};
use crate::config::Metricset;
use crate::error::AgentError;

/// Collect one event per enabled metricset (cpu over `cpu_window`), publish it, and flush
/// for up to `flush_timeout`. `proc/stat` is read exactly twice and `proc/meminfo` once per
/// module.
pub fn run_once(opts: &AgentOptions, flush_timeout: Duration) -> Result<AgentStats, AgentError> {
    let roots = roots(opts)?;
    let shared = shared(opts)?;
    std::thread::scope(|scope| {
        for (module, root) in shared.config.modules.iter().zip(&roots) {
            for set in &module.metricsets {
                let shared = &shared;
                match set {
                    Metricset::Cpu => {
                        scope.spawn(move || match root.cpu_sample() {
                            Ok(first) => {
                                std::thread::sleep(opts.cpu_window);
                                cpu_fetch(shared, module, root, first);
                            }
                            Err(e) => shared.collect_error("cpu", &e),
                        });
                    }
                    Metricset::Memory => {
                        scope.spawn(move || memory_fetch(shared, module, root));
                    }
                }
            }
        }
    });
    let shared = Arc::try_unwrap(shared)
        .map_err(|_| AgentError::Internal("event publisher still shared"))?;
    finish(shared, flush_timeout)
}
