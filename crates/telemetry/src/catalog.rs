//! The one place that names metricpipe's own metrics: each name is a `pub const` here, and
//! [`METRICS`] gives each its kind, unit and HELP text; [`SECONDS_BUCKETS`] are the
//! histogram buckets and the `init_*` functions register series at zero when a command
//! starts serving. Emitters pass the constant, never a string literal, to `counter!`,
//! `gauge!` and `histogram!`: the tests read every crate's source to hold that.
//!
//! Registering counters at zero matters to Prometheus: `increase()` and `rate()` only see a
//! series' first increment if the series existed (at 0) before it, so the alert rules in
//! `deploy/prometheus` fire on the first dropped event or bad record, not the second.
//!
//! Names follow Prometheus' naming practice (a counter ends in `_total`, a unit is a
//! suffix in base units: `_seconds`, `_bytes`). This module needs no Kafka client, so the
//! topology (which builds without librdkafka) can name its metrics from here too.

mod reason;
#[cfg(test)]
mod tests;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, SharedString, Unit,
};

pub use reason::BadRecordReason;
use Kind::{Counter, Gauge, Histogram};
use Served::{Agent, Every, Streams};

/// Upper bounds (seconds) of the buckets of every `*_seconds` histogram: 1 ms to 10 s, the
/// range of an offset commit or a delivery wait, roughly ×2.5 apart as Prometheus' client
/// libraries space their defaults.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The metricsets the agent implements; its per-metricset series start at zero for each.
pub const AGENT_METRICSETS: &[&str] = &["cpu", "memory"];

pub const READY: &str = "metricpipe_ready";
pub const BUILD_INFO: &str = "metricpipe_build_info";

pub const AGENT_EVENTS_COLLECTED_TOTAL: &str = "metricpipe_agent_events_collected_total";
pub const AGENT_CPU_SKIPPED_TOTAL: &str = "metricpipe_agent_cpu_skipped_total";
pub const AGENT_LAST_COLLECTION_TIMESTAMP_SECONDS: &str =
    "metricpipe_agent_last_collection_timestamp_seconds";
pub const AGENT_EVENTS_SENT_TOTAL: &str = "metricpipe_agent_events_sent_total";
pub const AGENT_EVENTS_DROPPED_TOTAL: &str = "metricpipe_agent_events_dropped_total";
pub const AGENT_EVENTS_FAILED_TOTAL: &str = "metricpipe_agent_events_failed_total";
pub const AGENT_EVENTS_RETRIED_TOTAL: &str = "metricpipe_agent_events_retried_total";
pub const AGENT_QUEUE_DEPTH: &str = "metricpipe_agent_queue_depth";

pub const STREAMS_RECORDS_IN_TOTAL: &str = "metricpipe_streams_records_in_total";
pub const STREAMS_RECORDS_OUT_TOTAL: &str = "metricpipe_streams_records_out_total";
pub const STREAMS_ALERTS_TOTAL: &str = "metricpipe_streams_alerts_total";
pub const STREAMS_BAD_RECORDS_TOTAL: &str = "metricpipe_streams_bad_records_total";
pub const STREAMS_DLQ_RECORDS_TOTAL: &str = "metricpipe_streams_dlq_records_total";
pub const STREAMS_DELIVERY_FAILURES_TOTAL: &str = "metricpipe_streams_delivery_failures_total";
pub const STREAMS_TRANSACTIONS_COMMITTED_TOTAL: &str =
    "metricpipe_streams_transactions_committed_total";
pub const STREAMS_TRANSACTIONS_ABORTED_TOTAL: &str =
    "metricpipe_streams_transactions_aborted_total";
pub const STREAMS_COMMIT_DURATION_SECONDS: &str = "metricpipe_streams_commit_duration_seconds";
pub const STREAMS_COMMIT_WAIT_SECONDS: &str = "metricpipe_streams_commit_wait_seconds";
pub const STREAMS_CONSUMER_LAG: &str = "metricpipe_streams_consumer_lag";
pub const STREAMS_ASSIGNED_PARTITIONS: &str = "metricpipe_streams_assigned_partitions";
pub const STREAMS_GROUP_STATE: &str = "metricpipe_streams_group_state";
pub const STREAMS_REBALANCES_TOTAL: &str = "metricpipe_streams_rebalances_total";
pub const STREAMS_SKIPPED_OFFSETS_TOTAL: &str = "metricpipe_streams_skipped_offsets_total";
pub const STREAMS_POSITION_REWINDS_TOTAL: &str = "metricpipe_streams_position_rewinds_total";
pub const STREAMS_FATAL_ERRORS_TOTAL: &str = "metricpipe_streams_fatal_errors_total";

/// The Prometheus metric type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    /// Bucketed by [`SECONDS_BUCKETS`] (every histogram is in seconds).
    Histogram,
}

/// Which commands serve a family; `install_recorder` describes them all, the `describe_*`
/// functions one group each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// Every command that serves `/metrics`.
    Every,
    /// The agent (`metricpipe-agent` and `metricpipe-ship`).
    Agent,
    /// The streams app (`metricpipe-streams`, the topology and
    /// [`record_consumer_statistics`](crate::record_consumer_statistics)).
    Streams,
}

/// One row of [`METRICS`]: what the `# HELP` and `# TYPE` lines of a family say.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// One of this module's name constants.
    pub name: &'static str,
    pub kind: Kind,
    /// Base unit, when the name ends in one (`_seconds`).
    pub unit: Option<Unit>,
    /// The `# HELP` text.
    pub help: &'static str,
    pub served: Served,
}

const fn m(name: &'static str, kind: Kind, served: Served, help: &'static str) -> Metric {
    Metric {
        name,
        kind,
        unit: None,
        help,
        served,
    }
}

const fn seconds(name: &'static str, kind: Kind, served: Served, help: &'static str) -> Metric {
    Metric {
        name,
        kind,
        unit: Some(Unit::Seconds),
        help,
        served,
    }
}

/// Every metric metricpipe emits, with its HELP text: the catalog's one table.
pub const METRICS: &[Metric] = &[
    m(READY, Gauge, Every, "1 while /readyz answers 200 (the brokers answered lately), 0 otherwise; refreshed on each scrape"),
    m(BUILD_INFO, Gauge, Every, "Always 1; the labels say the version, git commit and librdkafka version of this binary"),
    m(AGENT_EVENTS_COLLECTED_TOTAL, Counter, Agent, "Events built by the agent, by metricset"),
    m(AGENT_CPU_SKIPPED_TOTAL, Counter, Agent, "cpu measurements skipped (no previous sample, or the counters went backwards), by metricset"),
    seconds(AGENT_LAST_COLLECTION_TIMESTAMP_SECONDS, Gauge, Agent, "Unix time of the last event a metricset built, by metricset"),
    m(AGENT_EVENTS_SENT_TOTAL, Counter, Agent, "Events the brokers acknowledged, by metricset"),
    m(AGENT_EVENTS_DROPPED_TOTAL, Counter, Agent, "Events dropped because the queue was full (the oldest go first) or left undelivered at shutdown, by metricset"),
    m(AGENT_EVENTS_FAILED_TOTAL, Counter, Agent, "Events the brokers refused for good (delivery errors that are not retried), by metricset"),
    m(AGENT_EVENTS_RETRIED_TOTAL, Counter, Agent, "Delivery attempts that failed and were queued again, by metricset"),
    m(AGENT_QUEUE_DEPTH, Gauge, Agent, "Events held by the agent: queued plus in flight"),
    m(STREAMS_RECORDS_IN_TOTAL, Counter, Streams, "Records consumed, by source topic"),
    m(STREAMS_RECORDS_OUT_TOTAL, Counter, Streams, "Records produced, by sink topic"),
    m(STREAMS_ALERTS_TOTAL, Counter, Streams, "CPU alerts written to the alert topic"),
    m(STREAMS_BAD_RECORDS_TOTAL, Counter, Streams, "Records that could not be routed or alerted on, by reason"),
    m(STREAMS_DLQ_RECORDS_TOTAL, Counter, Streams, "Records written to the dead-letter topic"),
    m(STREAMS_DELIVERY_FAILURES_TOTAL, Counter, Streams, "Output records whose delivery failed, by what happened next (outcome: retried, split-and-resent, refused-by-broker, too-large, not-authorized, transaction-aborted)"),
    m(STREAMS_TRANSACTIONS_COMMITTED_TOTAL, Counter, Streams, "Transactions committed under exactly_once_v2"),
    m(STREAMS_TRANSACTIONS_ABORTED_TOTAL, Counter, Streams, "Transactions aborted under exactly_once_v2 (the consumer is rewound to where each started and its records are processed again)"),
    seconds(STREAMS_COMMIT_DURATION_SECONDS, Histogram, Streams, "Time an offset commit took"),
    seconds(STREAMS_COMMIT_WAIT_SECONDS, Histogram, Streams, "Time from a commit tick until the outputs of everything processed before it were acknowledged"),
    m(STREAMS_CONSUMER_LAG, Gauge, Streams, "Records between the consumer's position and the end of each partition"),
    m(STREAMS_ASSIGNED_PARTITIONS, Gauge, Streams, "Partitions assigned to this instance by the consumer group"),
    m(STREAMS_GROUP_STATE, Gauge, Streams, "1 for the consumer group state this instance is in (librdkafka's cgrp state: up, wait-join, ...), 0 for the others seen"),
    m(STREAMS_REBALANCES_TOTAL, Counter, Streams, "Rebalances (assign or revoke) this instance went through"),
    m(STREAMS_SKIPPED_OFFSETS_TOTAL, Counter, Streams, "Input offsets the consumer's position jumped over without processing them (retention, compaction, transaction markers), by topic and partition"),
    m(STREAMS_POSITION_REWINDS_TOTAL, Counter, Streams, "Times a partition's position went back (topic re-created, log truncated); its commit point followed"),
    m(STREAMS_FATAL_ERRORS_TOTAL, Counter, Streams, "Fatal Kafka client errors (fenced, ERR__FATAL) that stopped this instance, by code"),
];

/// The [`METRICS`] row of `name`, if the catalog has one.
pub fn lookup(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

/// Hand the HELP text and unit of each [`METRICS`] row served by `served` to the installed
/// recorder.
fn describe(served: Served) {
    for m in METRICS.iter().filter(|m| m.served == served) {
        let help = SharedString::const_str(m.help);
        match (m.kind, m.unit) {
            (Counter, Some(unit)) => describe_counter!(m.name, unit, help),
            (Counter, None) => describe_counter!(m.name, help),
            (Gauge, Some(unit)) => describe_gauge!(m.name, unit, help),
            (Gauge, None) => describe_gauge!(m.name, help),
            (Histogram, Some(unit)) => describe_histogram!(m.name, unit, help),
            (Histogram, None) => describe_histogram!(m.name, help),
        }
    }
}

/// HELP text of the metrics every command serves.
pub fn describe_common_metrics() {
    describe(Every);
}

/// HELP text and units of the agent's metrics (emitted by `metricpipe-agent` and
/// `metricpipe-ship`).
pub fn describe_agent_metrics() {
    describe(Agent);
}

/// HELP text and units of the streams app's metrics (emitted by `metricpipe-streams`, the
/// topology and [`record_consumer_statistics`](crate::record_consumer_statistics)).
pub fn describe_streams_metrics() {
    describe(Streams);
}

/// Register the agent's series at zero: the collected and delivery counters for each of
/// [`AGENT_METRICSETS`]. Call it once the recorder is installed.
pub fn init_agent_metrics() {
    for &metricset in AGENT_METRICSETS {
        for name in [
            AGENT_EVENTS_COLLECTED_TOTAL,
            AGENT_EVENTS_SENT_TOTAL,
            AGENT_EVENTS_DROPPED_TOTAL,
            AGENT_EVENTS_FAILED_TOTAL,
            AGENT_EVENTS_RETRIED_TOTAL,
        ] {
            counter!(name, "metricset" => metricset).absolute(0);
        }
    }
    counter!(AGENT_CPU_SKIPPED_TOTAL, "metricset" => "cpu").absolute(0);
    gauge!(AGENT_QUEUE_DEPTH).set(0.0);
}

/// Register the streams app's series at zero: alerts, dead letters, rebalances, the
/// assignment, and bad records for each of [`BadRecordReason::ALL`].
pub fn init_streams_metrics() {
    counter!(STREAMS_ALERTS_TOTAL).absolute(0);
    counter!(STREAMS_DLQ_RECORDS_TOTAL).absolute(0);
    counter!(STREAMS_REBALANCES_TOTAL).absolute(0);
    gauge!(STREAMS_ASSIGNED_PARTITIONS).set(0.0);
    for reason in BadRecordReason::ALL {
        counter!(STREAMS_BAD_RECORDS_TOTAL, "reason" => reason.as_str()).absolute(0);
    }
}
