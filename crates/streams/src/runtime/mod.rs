//! The rdkafka runtime: one tight poll loop per instance, at-least-once.
//!
//! Small parts with one job each:
//!
//! - [`config`]: [`RuntimeConfig`] and the clients' properties (through metricpipe-kafka).
//! - `offsets`: per-partition commit points, typed delivery tokens, following the
//!   consumer's position when it moves without a record being processed.
//! - `commit`: when interval, revoke and final commits leave (an injected clock), and
//!   sending them.
//! - `producer`: handing outputs to librdkafka and serving delivery reports.
//! - `dlq`, `sink`: the dead-letter path; failed deliveries; drains.
//! - `rebalance`: the consumer context (revoke drains and commits; assign reads the
//!   committed offsets).
//! - `run_loop`: poll, process, housekeeping; `shutdown`: the bounded stop.
//!
//! **Invariant:** an offset is committed only after every output derived from it (routed
//! records, alerts, dead letters) is acknowledged by the brokers, or given up on for good
//! (refused and not dead-lettered). A fatal client error stops the run with
//! [`StreamsError::Fatal`]; nothing past the last commit point is committed.

pub mod config;

mod commit;
mod dlq;
mod offsets;
mod producer;
mod rebalance;
mod run_loop;
mod shared;
mod shutdown;
mod sink;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::error::KafkaError;

pub use config::{
    ProcessingGuarantee, RuntimeConfig, UnknownGuarantee, DEFAULT_COMMIT_INTERVAL,
    DEFAULT_SHUTDOWN_TIMEOUT, EOS_DEFAULT_COMMIT_INTERVAL,
};
pub use run_loop::run;

/// Header names on dead-letter records.
pub mod dlq_headers {
    pub const REASON: &str = "metricpipe.dlq.reason";
    pub const DETAIL: &str = "metricpipe.dlq.detail";
    pub const NODE: &str = "metricpipe.dlq.node";
    pub const ROUTED: &str = "metricpipe.dlq.routed";
    pub const SOURCE_TOPIC: &str = "metricpipe.source.topic";
    pub const SOURCE_PARTITION: &str = "metricpipe.source.partition";
    pub const SOURCE_OFFSET: &str = "metricpipe.source.offset";
    pub const TRUNCATED_FROM: &str = "metricpipe.dlq.truncated-from";
}

/// Errors that stop the runtime. Processing a record itself never fails.
#[derive(Debug, thiserror::Error)]
pub enum StreamsError {
    #[error("creating the Kafka {what} failed: {source}. Check --bootstrap-servers and the -X properties")]
    Client {
        what: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("subscribing to {topics:?} failed: {source}")]
    Subscribe {
        topics: Vec<String>,
        #[source]
        source: KafkaError,
    },
    #[error("the Kafka {0}; what was not committed will be processed again after a restart")]
    Fatal(String),
}

/// What a run did, for logs, tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub records_in: u64,
    pub records_out: u64,
    pub rejected: u64,
    pub dead_letters: u64,
    /// Input offsets the consumer's position jumped over without a record (retention
    /// deleted them while the group was away, compaction, transaction markers).
    pub skipped_offsets: u64,
    /// Times a partition's position went back (topic re-created, log truncated).
    pub rewinds: u64,
    /// From the first record received to the last one processed.
    pub busy: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not stop processing: every critical section here is a few
    // plain field updates, so the data stays consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
