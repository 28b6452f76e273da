//! The rdkafka runtime: one tight poll loop per instance, at-least-once.
//!
//! Small parts with one job each:
//!
//! - [`config`]: [`RuntimeConfig`] and the clients' properties (through metricpipe-kafka);
//!   the processing guarantee and exception handlers it holds are `crate::guarantee`'s.
//! - `offsets`: per-partition commit points, typed delivery tokens, following the
//!   consumer's position when it moves without a record being processed.
//! - `commit`: when interval, revoke and final commits leave (an injected clock), and
//!   sending them.
//! - `producer`: handing outputs to librdkafka and serving delivery reports.
//! - `dlq`, `sink`: the dead-letter path; failed deliveries; drains.
//! - `rebalance`: the consumer context (revoke drains and commits; assign reads the
//!   committed offsets).
//! - `run_loop`: poll, process, housekeeping; `shutdown`: the bounded stop.
//! - `threads`: `num.stream.threads`, several loops in one process
//!   ([`run_stream_threads`]).
//!
//! **Invariant:** an offset is committed only after every output derived from it (routed
//! records, alerts, dead letters) is acknowledged by the brokers, or given up on for good
//! (refused and not dead-lettered). A fatal client error stops the run with
//! [`StreamsError::Fatal`] (librdkafka's code kept); nothing past the last commit point is committed.

pub mod config;

mod commit;
mod dlq;
mod offsets;
mod process;
mod producer;
mod rebalance;
mod run_loop;
#[cfg(test)]
mod scripted;
mod shared;
mod shutdown;
mod sink;
mod threads;
mod transaction;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

pub use config::{RuntimeConfig, DEFAULT_SHUTDOWN_TIMEOUT};
pub use run_loop::run;

pub use threads::run_stream_threads;

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

    /// KIP-1034's headers, as Kafka Streams' `ExceptionHandlerUtils` writes them next to
    /// the record it dead-letters, so tools written for the Java app's dead-letter topic
    /// read ours. Values are UTF-8 strings.
    pub mod kip1034 {
        /// Java's `exception.toString()`: `<class>: <message>`; ours is
        /// [`REJECTED_CLASS`]`: <reason>: <detail>`.
        pub const EXCEPTION: &str = "__streams.errors.exception";
        /// `<reason>: <detail>`.
        pub const MESSAGE: &str = "__streams.errors.message";
        /// The exception line, then `\tat <node>`: the topology node that rejected it.
        pub const STACKTRACE: &str = "__streams.errors.stacktrace";
        /// The source record's topic, partition and offset (decimal).
        pub const TOPIC: &str = "__streams.errors.topic";
        pub const PARTITION: &str = "__streams.errors.partition";
        pub const OFFSET: &str = "__streams.errors.offset";
        /// The exception class named in [`EXCEPTION`] for a rejected record.
        pub const REJECTED_CLASS: &str = "metricpipe.streams.RejectedRecord";
        /// ... and for an output the brokers refused.
        pub const REFUSED_CLASS: &str = "metricpipe.streams.RefusedOutput";
    }
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
    /// A client became unusable for good (fenced, a missing ACL, a transaction that could
    /// be neither committed nor aborted); `code` is librdkafka's.
    #[error("the Kafka {client}: {code}: {reason}; what was not committed will be processed again after a restart")]
    Fatal {
        client: &'static str,
        code: RDKafkaErrorCode,
        reason: Box<str>,
    },
    /// The transactional producer could not be started (`call`: `init_transactions` or
    /// `begin_transaction`).
    #[error("the Kafka transactional producer: {call} failed: {source}; what was not committed will be processed again after a restart")]
    Transactions {
        call: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("a stream thread could not start: {0}; what was not committed will be processed again after a restart")]
    ThreadStart(#[source] std::io::Error),
    #[error(
        "a stream thread panicked; what was not committed will be processed again after a restart"
    )]
    ThreadPanicked,
    /// A rejected record under the `LogAndFail` exception handler.
    #[error("record {0}; the exception handler is LogAndFail, so processing stopped before it (it is not committed: a restart meets it again). Fix or skip the record, or set default.deserialization.exception.handler / processing.exception.handler to LogAndContinue")]
    BadRecord(RejectedRecord),
}

/// A record a topology node rejected, where it came from and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecord {
    pub topic: Box<str>,
    pub partition: i32,
    pub offset: i64,
    pub node: Box<str>,
    /// The reason's code (`crate::Reason::code`), e.g. `invalid-json`.
    pub reason: &'static str,
    pub detail: Box<str>,
}

impl std::fmt::Display for RejectedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}[{}]@{} was rejected at {}: {}: {}",
            self.topic, self.partition, self.offset, self.node, self.reason, self.detail
        )
    }
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
