//! `metricpipe-topology`: the metric routing and alert topology, written with the
//! `metricpipe-streams` DSL, and the `streams` app's configuration.
//!
//! - [`metric_topology`] builds what the reference Java Kafka Streams app runs:
//!   `metric.all` split by `metricset.name` into `metric.cpu` and `metric.memory` (values
//!   forwarded byte-for-byte, other metricsets dropped), and cpu records with
//!   `system.cpu.total.norm.pct > threshold` mapped to `host` + `timestamp` into
//!   `metric.cpu.alert` (see [`alert`] for the exact bytes).
//! - [`pass_through`] is the ceiling for benchmarks: the same runtime, no parsing.
//! - [`extract::extract`] reads only `metricset.name`, `system.cpu.total.norm.pct`, `host`
//!   and `@timestamp`, in one validating pass that decodes nothing else.
//! - [`AppConfig`] is the TOML config file of `metricpipe streams --config`.
//!
//! **Invariants:** routing never fails — each record gets a routing decision or a
//! [`Reason`](metricpipe_streams::Reason) (`not-utf8`, `not-json`, `mistyped-field`,
//! `missing-field`, `too-large`, `unalertable`); routed values are the input bytes, never
//! re-serialized.
//!
//! Decisions where the Java app has no answer (it throws and its stream thread dies):
//! - no string `metricset.name`, not JSON, not UTF-8: rejected, nothing routed;
//! - a cpu record whose `host` is missing, `null` or not an object: routed to `metric.cpu`,
//!   no alert, rejected as `unalertable` on the alert path;
//! - a non-numeric percentage (e.g. `"0.9"`, which gson would have parsed): `unalertable`,
//!   as the spec says.

pub mod alert;
mod config;
pub mod extract;
mod scan;

pub use config::{AppConfig, ConfigError, Topics};
pub use extract::{CpuPct, Kind, MetricFields};

use metricpipe_streams::{Reason, StreamsBuilder, Topology};
use metricpipe_telemetry::BadRecordReason;

/// The alert threshold of the reference app: strictly above 50 %.
pub const DEFAULT_THRESHOLD: f64 = 0.5;

/// Librdkafka's default `message.max.bytes` (and the brokers' record limit, about 1 MiB).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1_000_000;

/// What the metric topology needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricTopologyConfig {
    pub topics: Topics,
    /// An alert needs `system.cpu.total.norm.pct` strictly greater than this.
    pub threshold: f64,
    /// Larger records are rejected (`too-large`) before parsing.
    pub max_record_bytes: usize,
}

impl Default for MetricTopologyConfig {
    fn default() -> Self {
        MetricTopologyConfig {
            topics: Topics::default(),
            threshold: DEFAULT_THRESHOLD,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// The metric topology, node for node and name for name the reference Java app's, so
/// `describe()` prints what Kafka Streams prints for it.
pub fn metric_topology(config: &MetricTopologyConfig) -> Topology<MetricFields> {
    let builder = StreamsBuilder::new(extract::extract).max_value_bytes(config.max_record_bytes);
    let mut branches = builder
        .stream(&config.topics.input)
        .split_named("metric-")
        .branch("cpu", |_, m: &MetricFields| Ok(m.kind == Kind::Cpu))
        .branch("memory", |_, m: &MetricFields| Ok(m.kind == Kind::Memory))
        .no_default_branch();
    let (Some(cpu), Some(memory)) = (
        branches.remove("metric-cpu"),
        branches.remove("metric-memory"),
    ) else {
        unreachable!("the split above declares both branches");
    };
    cpu.to(&config.topics.cpu);
    memory.to(&config.topics.memory);

    let threshold = config.threshold;
    let alerts = metrics::counter!(metricpipe_telemetry::catalog::STREAMS_ALERTS_TOTAL);
    cpu.filter(move |_, m| match m.cpu_pct {
        CpuPct::Number(pct) => Ok(pct > threshold),
        CpuPct::Unalertable(why) => Err(Reason::new(BadRecordReason::Unalertable, why)),
    })
    .map_values(move |value, m| {
        let Some(host) = m.host.clone().filter(|r| value.get(r.start) == Some(&b'{')) else {
            return Err(Reason::new(BadRecordReason::Unalertable, "no host object"));
        };
        let mut out = Vec::with_capacity(host.len() + 48);
        alert::write_alert(
            &value[host],
            m.timestamp.clone().map(|t| &value[t]),
            &mut out,
        );
        alerts.increment(1);
        Ok(out)
    })
    .to(&config.topics.alert);
    builder.build()
}

/// `input` copied to `output` untouched: the runtime's ceiling, for benchmarks.
pub fn pass_through(input: &str, output: &str) -> Topology<()> {
    let builder = StreamsBuilder::raw();
    builder.stream(input).to(output);
    builder.build()
}
