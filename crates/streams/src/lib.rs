//! `metricpipe-streams`: a small Kafka Streams-style engine.
//!
//! - **DSL** ([`StreamsBuilder`], [`KStream`], [`BranchedKStream`]): `stream(topic)`,
//!   `split()`/`split_named(name)` with `branch(name, predicate)` and
//!   `default_branch`/`no_default_branch`, `filter`, `map_values`, `to(topic)`; the built
//!   [`Topology`] prints like Kafka Streams' `Topology.describe()` ([`Topology::describe`]).
//! - **Processor model:** a record is its value bytes plus fields `X` that the builder's
//!   extractor pulls from the source value once; predicates and mappers read `(&[u8], &X)`.
//!   Sinks receive the bytes they are given: a record nobody mapped reaches its sink as the
//!   very input bytes, never re-serialized.
//! - **Runtime** ([`run`], [`RuntimeConfig`]): rdkafka consumer group named by the
//!   application id, idempotent `acks=all` producer, at-least-once with short commit
//!   intervals, drain-and-commit on revoke and shutdown, dead-letter topic with reason
//!   headers ([`dlq_headers`]), bounded shutdown, fatal client errors stop the run.
//!   Signals are the binary's business; readiness probing lives in `metricpipe-telemetry`.
//! - **Test driver** ([`TopologyTestDriver`]): the same topology in memory, no broker;
//!   [`dry_run`] runs it over lines of text (`streams --dry-run`).
//! - **Features:** `runtime` (on by default) is everything that needs librdkafka: the
//!   runtime, [`properties`] and the batch sizing. Without it the crate is the DSL, the test
//!   driver and the settings that need no client ([`ProcessingGuarantee`],
//!   [`ExceptionHandler`]), so a user of the DSL alone (the topology's fuzz target) builds
//!   no C library.
//!
//! **Invariants:** [`Topology::process`] never fails (results and [`Reason`]s go to an
//! [`Output`]); an offset is committed only after every output derived from it is
//! acknowledged.
//!
//! ```
//! use metricpipe_streams::{StreamsBuilder, TopologyTestDriver};
//! let builder = StreamsBuilder::raw();
//! builder.stream("in").filter(|v, _| Ok(!v.is_empty())).to("out");
//! let mut driver = TopologyTestDriver::new(builder.build());
//! driver.pipe_input("in", b"hello");
//! assert_eq!(driver.read_output("out"), vec![b"hello".to_vec()]);
//! ```

mod driver;
mod dry_run;
mod dsl;
mod guarantee;
#[cfg(feature = "runtime")]
mod oversize;
#[cfg(feature = "runtime")]
pub mod properties;
#[cfg(feature = "runtime")]
mod runtime;

pub use driver::{Rejection, TestRecord, TopologyTestDriver};
pub use dry_run::{dry_run, DryRunError};
pub use dsl::{
    BranchedKStream, KStream, Output, Reason, SinkId, SourceId, StreamsBuilder, Topology,
    TopologyDescription,
};
pub use guarantee::{
    ExceptionHandler, ProcessingGuarantee, UnknownGuarantee, DEFAULT_COMMIT_INTERVAL,
    EOS_DEFAULT_COMMIT_INTERVAL,
};
#[cfg(feature = "runtime")]
pub use runtime::{
    dlq_headers, run, run_stream_threads, RejectedRecord, RunSummary, RuntimeConfig, StreamsError,
    DEFAULT_SHUTDOWN_TIMEOUT,
};
