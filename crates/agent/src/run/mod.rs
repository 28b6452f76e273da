//! The run loop: one thread per metricset, each on its own period, publishing to one output.

mod agent;
mod collectors;
mod once;
mod options;
pub(crate) mod publish;
pub(crate) mod reload;

pub use agent::RunningAgent;
pub use once::run_once;
pub use options::AgentOptions;
pub use publish::AgentStats;

/// The tracing target of this module's log lines, which `-d` selectors name.
pub const LOG_TARGET: &str = module_path!();
