//! The one place that names metricpipe's own metrics: their HELP text, their units, the
//! histogram buckets, and the series registered at zero when a command starts serving.
//!
//! Registering counters at zero matters to Prometheus: `increase()` and `rate()` only see a
//! series' first increment if the series existed (at 0) before it, so the alert rules in
//! `deploy/prometheus` fire on the first dropped event or bad record, not the second.

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, Unit};

/// Upper bounds (seconds) of the buckets of every `*_seconds` histogram: 1 ms to 10 s, the
/// range of an offset commit or a delivery wait, roughly ×2.5 apart as Prometheus' client
/// libraries space their defaults.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The metricsets the agent implements; its per-metricset series start at zero for each.
pub const AGENT_METRICSETS: &[&str] = &["cpu", "memory"];

/// The `reason` label values of `metricpipe_streams_bad_records_total` known when this was
/// written (the router's reasons, the DSL's `too-large`, and the two produce-path refusals);
/// each starts at zero. A reason added later still counts, from its first record on.
pub const STREAMS_BAD_RECORD_REASONS: &[&str] = &[
    "not-utf8",
    "not-json",
    "mistyped-field",
    "missing-field",
    "too-large",
    "unalertable",
    "refused-by-broker",
    "refused-by-producer",
];

/// HELP text of the metrics every command serves.
pub fn describe_common_metrics() {
    describe_gauge!(
        "metricpipe_ready",
        "1 while /readyz answers 200 (the brokers answered lately), 0 otherwise; refreshed on each scrape"
    );
}

/// HELP text and units of the agent's metrics (emitted by `metricpipe-agent` and
/// `metricpipe-ship`).
pub fn describe_agent_metrics() {
    describe_counter!(
        "metricpipe_agent_events_collected_total",
        "Events built by the agent, by metricset"
    );
    describe_counter!(
        "metricpipe_agent_cpu_skipped_total",
        "cpu measurements skipped (no previous sample, or the counters went backwards), by metricset"
    );
    describe_gauge!(
        "metricpipe_agent_last_collection_timestamp_seconds",
        Unit::Seconds,
        "Unix time of the last event a metricset built, by metricset"
    );
    describe_counter!(
        "metricpipe_agent_events_sent_total",
        "Events the brokers acknowledged, by metricset"
    );
    describe_counter!(
        "metricpipe_agent_events_dropped_total",
        "Events dropped because the queue was full (the oldest go first) or left undelivered at shutdown, by metricset"
    );
    describe_counter!(
        "metricpipe_agent_events_failed_total",
        "Events the brokers refused for good (delivery errors that are not retried), by metricset"
    );
    describe_counter!(
        "metricpipe_agent_events_retried_total",
        "Delivery attempts that failed and were queued again, by metricset"
    );
    describe_gauge!(
        "metricpipe_agent_queue_depth",
        "Events held by the agent: queued plus in flight"
    );
}

/// HELP text and units of the streams app's metrics (emitted by `metricpipe-streams` and
/// [`record_consumer_statistics`](crate::record_consumer_statistics)).
pub fn describe_streams_metrics() {
    describe_counter!(
        "metricpipe_streams_records_in_total",
        "Records consumed, by source topic"
    );
    describe_counter!(
        "metricpipe_streams_records_out_total",
        "Records produced, by sink topic"
    );
    describe_counter!(
        "metricpipe_streams_alerts_total",
        "CPU alerts written to the alert topic"
    );
    describe_counter!(
        "metricpipe_streams_bad_records_total",
        "Records that could not be routed or alerted on, by reason"
    );
    describe_counter!(
        "metricpipe_streams_dlq_records_total",
        "Records written to the dead-letter topic"
    );
    describe_histogram!(
        "metricpipe_streams_commit_duration_seconds",
        Unit::Seconds,
        "Time an offset commit took"
    );
    describe_histogram!(
        "metricpipe_streams_commit_wait_seconds",
        Unit::Seconds,
        "Time from a commit tick until the outputs of everything processed before it were acknowledged"
    );
    describe_gauge!(
        "metricpipe_streams_consumer_lag",
        "Records between the consumer's position and the end of each partition"
    );
    describe_gauge!(
        "metricpipe_streams_assigned_partitions",
        "Partitions assigned to this instance by the consumer group"
    );
    describe_gauge!(
        "metricpipe_streams_group_state",
        "1 for the consumer group state this instance is in (librdkafka's cgrp state: up, wait-join, ...), 0 for the others seen"
    );
    describe_counter!(
        "metricpipe_streams_rebalances_total",
        "Rebalances (assign or revoke) this instance went through"
    );
    describe_counter!(
        "metricpipe_streams_skipped_offsets_total",
        "Input offsets the consumer's position jumped over without processing them (retention, compaction, transaction markers), by topic and partition"
    );
    describe_counter!(
        "metricpipe_streams_position_rewinds_total",
        "Times a partition's position went back (topic re-created, log truncated); its commit point followed"
    );
    describe_counter!(
        "metricpipe_streams_fatal_errors_total",
        "Fatal Kafka client errors (fenced, ERR__FATAL) that stopped this instance, by code"
    );
}

/// Register the agent's series at zero: the collected and delivery counters for each of
/// [`AGENT_METRICSETS`]. Call it once the recorder is installed.
pub fn init_agent_metrics() {
    for &metricset in AGENT_METRICSETS {
        for name in [
            "metricpipe_agent_events_collected_total",
            "metricpipe_agent_events_sent_total",
            "metricpipe_agent_events_dropped_total",
            "metricpipe_agent_events_failed_total",
            "metricpipe_agent_events_retried_total",
        ] {
            counter!(name, "metricset" => metricset).absolute(0);
        }
    }
    counter!("metricpipe_agent_cpu_skipped_total", "metricset" => "cpu").absolute(0);
    gauge!("metricpipe_agent_queue_depth").set(0.0);
}

/// Register the streams app's series at zero: alerts, dead letters, rebalances, the
/// assignment, and bad records for each of [`STREAMS_BAD_RECORD_REASONS`].
pub fn init_streams_metrics() {
    counter!("metricpipe_streams_alerts_total").absolute(0);
    counter!("metricpipe_streams_dlq_records_total").absolute(0);
    counter!("metricpipe_streams_rebalances_total").absolute(0);
    gauge!("metricpipe_streams_assigned_partitions").set(0.0);
    for &reason in STREAMS_BAD_RECORD_REASONS {
        counter!("metricpipe_streams_bad_records_total", "reason" => reason).absolute(0);
    }
}
