//! Metricbeat-compatible sources for metricpipe: Linux `/proc` readers, Metricbeat's
//! `system/cpu` and `system/memory` formulas, and Metricbeat-shaped event building.
//!
//! The crate is pure: it reads files through a [`ProcRoot`] and computes values; it knows
//! nothing about Kafka, threads or clocks beyond the timestamps it is handed.
//!
//! - [`ProcRoot`]: every `/proc` read goes through a root (`/` or a `hostfs` such as `/hostfs`).
//! - [`parse_stat`] → [`CpuSample`]; [`cpu_usage`] turns two samples into [`CpuUsage`] with
//!   Metricbeat's exact rounding ([`round4`]), or a [`CpuSkip`] reason when the pair is not
//!   meaningful (the counters' total did not advance; a single state going backwards gives
//!   a negative delta, as in Metricbeat).
//! - [`parse_meminfo`] → [`Meminfo`]; [`Memory::from_meminfo`] applies Metricbeat's formulas.
//! - [`Value`]/[`Map`]: an ordered JSON tree; [`cpu_event`] and [`memory_event`] build the
//!   Metricbeat documents and [`Map::to_json`] writes them with Go's number formatting
//!   (`@timestamp` first, `@metadata` second, whole floats without `.0`).

mod cpu;
mod event;
mod json;
mod memory;
mod procfs;

pub use cpu::{
    cpu_usage, parse_stat, round4, CpuSample, CpuSkip, CpuTimes, CpuUsage, StatePct, CPU_STATES,
};
pub use event::{cpu_event, memory_event, BeatInfo, CpuMetrics, EventContext};
pub use json::{format_go_float, format_timestamp, Map, Value};
pub use memory::{parse_meminfo, Meminfo, Memory};
pub use procfs::ProcRoot;

/// Errors of reading and parsing `/proc` files. Each names the file and what to check.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("hostfs root {0} does not exist: mount the host's / there (e.g. `-v /:/hostfs:ro`) or fix `hostfs`")]
    RootMissing(std::path::PathBuf),
    #[error("{0} does not exist: the hostfs root must hold the host's proc filesystem (mount /proc or / of the host there)")]
    NoProcStat(std::path::PathBuf),
    #[error("reading {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {detail}")]
    Parse { path: String, detail: String },
}
