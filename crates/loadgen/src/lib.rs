//! Metricbeat-shaped load for metricpipe.
//!
//! - [`Generator`] makes cpu and memory events as Metricbeat's system module would, for `hosts`
//!   simulated hosts, deterministically from a seed. A share of the cpu events
//!   ([`GenOptions::hot_share`]) is above the alert threshold. Every event carries a unique
//!   `event.id = "<seed>-<seq>"`, which routing forwards untouched; alerts are identified by
//!   `"<host.name>@<timestamp>"`, which the generator keeps unique too.
//! - [`produce`] sends them to a topic: as fast as the cluster acknowledges (a backlog, with
//!   `count`) or paced at `rate` events/s. [`Progress`] exposes live counters and a stop switch;
//!   the returned [`Summary`] says how many events, cpu, memory and hot (= expected alerts).
//! - [`count_ids`] reads a topic to its current end and counts records, distinct ids and
//!   duplicates ([`IdCount`]), for loss and duplicate checks in drills and benchmarks.
//!
//! ```no_run
//! use std::sync::Arc;
//! use metricpipe_kafka::topics;
//! use metricpipe_loadgen::{produce, ProduceOptions, Progress, count_ids};
//! let mut opts = ProduceOptions::new("127.0.0.1:9092", topics::INPUT);
//! opts.count = Some(100_000);
//! let summary = produce(&opts, Arc::new(Progress::default())).unwrap();
//! let cpu = count_ids("127.0.0.1:9092", topics::CPU, std::time::Duration::from_secs(60)).unwrap();
//! assert_eq!(cpu.missing_seq(summary.seed, 0, summary.events) , summary.memory);
//! ```

mod event;
mod produce;
mod rng;
mod verify;

pub use event::{parse_timestamp, push_timestamp, Clock, Event, GenOptions, Generator, Kind};
pub use produce::{produce, ProduceOptions, Progress, Summary};
pub use verify::{alert_key_of_event, count_ids, record_key, scan, IdCount};

use std::time::Duration;

/// Errors of load generation and verification. Each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    #[error("{0}")]
    Options(String),
    #[error("{what} failed: {source}")]
    Kafka {
        what: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("topic {topic} does not exist at {bootstrap}: create it with `metricpipe topics create -b {bootstrap}`")]
    NoTopic { topic: String, bootstrap: String },
    #[error("{pending} events to {topic} were still unacknowledged after 60 s: is the cluster at {bootstrap} up?")]
    Undelivered {
        pending: u64,
        topic: String,
        bootstrap: String,
    },
    #[error("timed out after {waited:?} {what}")]
    Timeout { what: String, waited: Duration },
}
