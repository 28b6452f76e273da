//! The agent's own figures for Metricbeat's monitoring endpoint: the documents
//! ([`beat_stats`]) and this process's resources (`process`).

pub mod beat_stats;
pub(crate) mod process;

pub use beat_stats::{StatsHandle, StatsInput};
pub use process::ProcessFigures;
