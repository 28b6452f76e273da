//! metricpipe's benchmark harness.
//!
//! - [`run_bench`]: on one local 3-node cluster (or a given one) and one backlog made by
//!   `metricpipe-loadgen`, runs each [`Contender`] in turn as a child process: our streams app,
//!   the Java Kafka Streams twin (bench/java) with 1 and 3 threads, and the pass-through
//!   ceiling. Each is measured from its start to the moment its output topics have grown by the
//!   backlog's size: records/s, CPU-seconds (utime+stime from /proc), peak RSS (VmHWM), the
//!   brokers' CPU meanwhile. [`evaluate`] turns one run into ratios and the targets;
//!   [`render_table`] prints them.
//! - [`passthrough`]: the ceiling itself, a consume→produce loop with no parsing.
//! - [`run_latency`]: a paced load through a running streams app; p50/p99 of each alert's broker
//!   timestamp minus its event's `@timestamp`.
//! - [`suite`]: the contenders `metricpipe bench` runs ([`SuitePlan`]), the Java twin's
//!   build, and which contenders did not finish the job.
//! - [`procstat`]: CPU and memory readings of a process, and what the machine is.

pub mod committed;
pub mod contender;
pub mod harness;
pub mod latency;
pub mod offsets;
pub mod passthrough;
pub mod procstat;
pub mod report;
pub mod run;
pub mod suite;
pub mod verdict;

pub use contender::{Contender, Family, Guarantee};
pub use harness::{run_bench, BenchOptions, BenchReport};
pub use latency::{run_latency, LatencyOptions, LatencyReport, Percentiles};
pub use passthrough::{passthrough, PassthroughOptions};
pub use report::{render_latency, render_summary, render_table};
pub use suite::SuitePlan;
pub use verdict::{evaluate, Measurement};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{what} failed: {source}")]
    Kafka {
        what: &'static str,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("{what} failed: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Setup(String),
    #[error("the Java twin's directory {} does not exist: pass --java-dir or --skip-java", dir.display())]
    NoJavaTwin {
        dir: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("running mvn (is Maven on PATH? or pass --skip-java)")]
    NoMaven(#[source] std::io::Error),
    #[error("building the Java twin failed ({status}); run `mvn package` in {} to see why, or pass --skip-java", dir.display())]
    JavaBuild {
        status: std::process::ExitStatus,
        dir: std::path::PathBuf,
    },
    #[error("{0}")]
    Contender(String),
}
