//! Publishing: one fetch of a metricset becomes an event, runs the processors and goes to
//! the output (Kafka or the console); the counters behind `/stats` and the stop summary.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use metricpipe_collect::{
    cpu_event, cpu_usage, memory_event, BeatInfo, CpuSample, EventContext, Map, Memory, ProcRoot,
};
use metricpipe_ship::{KafkaSink, Record, SinkStats};

use super::options::AgentOptions;
use crate::config::{AgentConfig, ModuleConfig, OutputConfig};
use crate::error::{AgentError, ConfigError};
use crate::host::beat_info;
use crate::topic::TopicFormat;

/// Counts since start. `sink` is `None` for the console output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentStats {
    pub events: u64,
    /// cpu samples that gave no event (the counters' total did not advance).
    pub cpu_skipped: u64,
    /// Reads of /proc that failed.
    pub collect_errors: u64,
    /// Events dropped because the topic format could not be rendered.
    pub topic_errors: u64,
    /// Events a processor (drop_event) dropped, as configured.
    pub processor_dropped: u64,
    /// Per metricset, in [`METRICSETS`] order: (events, failed fetches).
    pub by_metricset: [(u64, u64); 2],
    pub sink: Option<SinkStats>,
}

/// The metricsets [`AgentStats::by_metricset`] counts, in its order.
pub const METRICSETS: [&str; 2] = ["cpu", "memory"];

fn metricset_slot(name: &str) -> Option<usize> {
    METRICSETS.iter().position(|m| *m == name)
}

#[derive(Default)]
struct Counters {
    events: AtomicU64,
    cpu_skipped: AtomicU64,
    collect_errors: AtomicU64,
    topic_errors: AtomicU64,
    processor_dropped: AtomicU64,
    by_metricset: [[AtomicU64; 2]; 2],
}

enum Output {
    Console { pretty: bool },
    Kafka { sink: KafkaSink, topic: TopicFormat },
}

pub(crate) struct Shared {
    pub(crate) beat: BeatInfo,
    /// The configuration with `add_host_metadata` bound to its hostfs.
    pub(crate) config: AgentConfig,
    output: Output,
    counters: Counters,
}

impl Shared {
    /// Run the module's processors, then the global ones (libbeat's order), and send.
    fn publish(&self, metricset: &'static str, module: &ModuleConfig, event: Map) {
        self.counters.events.fetch_add(1, Ordering::Relaxed);
        if let Some(i) = metricset_slot(metricset) {
            self.counters.by_metricset[i][0].fetch_add(1, Ordering::Relaxed);
        }
        metrics::counter!(metricpipe_telemetry::catalog::AGENT_EVENTS_COLLECTED_TOTAL, "metricset" => metricset)
            .increment(1);
        let now = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        metrics::gauge!(metricpipe_telemetry::catalog::AGENT_LAST_COLLECTION_TIMESTAMP_SECONDS, "metricset" => metricset)
            .set(now);
        let Some(event) = module
            .processors
            .run(event)
            .and_then(|e| self.config.processors.run(e))
        else {
            self.counters
                .processor_dropped
                .fetch_add(1, Ordering::Relaxed);
            return;
        };
        let event = &event;
        match &self.output {
            Output::Console { pretty } => {
                let json = event.to_json();
                let line = if *pretty {
                    serde_json::from_str::<serde_json::Value>(&json)
                        .and_then(|v| serde_json::to_string_pretty(&v))
                        .unwrap_or(json)
                } else {
                    json
                };
                let mut out = std::io::stdout().lock();
                if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                    tracing::warn!("stdout is closed; event lost");
                }
            }
            Output::Kafka { sink, topic } => match topic.render(event) {
                Ok(topic) => sink.send(Record {
                    topic,
                    payload: event.to_json().into_bytes(),
                    metricset,
                }),
                Err(reason) => {
                    self.counters.topic_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%reason, "dropping event: setting the kafka topic failed");
                }
            },
        }
    }

    /// libbeat's `output.type` and the queue's `max_events`, for `/stats`.
    pub(crate) fn output_facts(&self) -> (&'static str, usize) {
        match (&self.output, &self.config.output) {
            (Output::Kafka { .. }, OutputConfig::Kafka(k)) => ("kafka", k.sink.queue_capacity),
            _ => ("console", 0),
        }
    }

    pub(crate) fn stats(&self) -> AgentStats {
        AgentStats {
            events: self.counters.events.load(Ordering::Relaxed),
            cpu_skipped: self.counters.cpu_skipped.load(Ordering::Relaxed),
            collect_errors: self.counters.collect_errors.load(Ordering::Relaxed),
            topic_errors: self.counters.topic_errors.load(Ordering::Relaxed),
            processor_dropped: self.counters.processor_dropped.load(Ordering::Relaxed),
            by_metricset: self
                .counters
                .by_metricset
                .each_ref()
                .map(|[e, f]| (e.load(Ordering::Relaxed), f.load(Ordering::Relaxed))),
            sink: match &self.output {
                Output::Kafka { sink, .. } => Some(sink.stats()),
                Output::Console { .. } => None,
            },
        }
    }

    pub(crate) fn collect_error(&self, metricset: &str, error: &dyn std::fmt::Display) {
        self.counters.collect_errors.fetch_add(1, Ordering::Relaxed);
        if let Some(i) = metricset_slot(metricset) {
            self.counters.by_metricset[i][1].fetch_add(1, Ordering::Relaxed);
        }
        tracing::warn!(metricset, %error, "collecting failed; trying again next period");
    }
}

fn open_output(config: &AgentConfig) -> Result<Output, AgentError> {
    Ok(match &config.output {
        OutputConfig::Console { pretty } => Output::Console { pretty: *pretty },
        OutputConfig::Kafka(k) => Output::Kafka {
            sink: KafkaSink::start(k.sink.clone()).map_err(|e| {
                let detail = e.to_string();
                match crate::config::blame_key(&detail) {
                    Some(key) => AgentError::Config(ConfigError::Invalid { key, detail }),
                    None => AgentError::Ship(e),
                }
            })?,
            topic: k.topic.clone(),
        },
    })
}

pub(crate) fn shared(opts: &AgentOptions) -> Result<Arc<Shared>, AgentError> {
    for w in &opts.config.warnings {
        tracing::warn!("{w}");
    }
    let mut config = opts.config.clone();
    config.bind_hostfs(opts.cli_hostfs.as_deref());
    Ok(Arc::new(Shared {
        beat: beat_info(&opts.config),
        config,
        output: open_output(&opts.config)?,
        counters: Counters::default(),
    }))
}

fn context<'a>(shared: &'a Shared, module: &ModuleConfig) -> EventContext<'a> {
    EventContext {
        beat: &shared.beat,
        period: module.period,
        fields: shared.config.fields.as_ref(),
        fields_under_root: shared.config.fields_under_root,
        tags: &shared.config.tags,
    }
}

/// Measure cpu from `prev` to a fresh sample and publish the event; returns the new sample
/// to measure from next time.
pub(crate) fn cpu_fetch(
    shared: &Shared,
    module: &ModuleConfig,
    root: &ProcRoot,
    prev: CpuSample,
) -> Option<CpuSample> {
    let started = SystemTime::now();
    let t0 = Instant::now();
    let cur = match root.cpu_sample() {
        Ok(s) => s,
        Err(e) => {
            shared.collect_error("cpu", &e);
            return None;
        }
    };
    match cpu_usage(&prev, &cur) {
        Ok(usage) => {
            let ev = cpu_event(
                &context(shared, module),
                started,
                t0.elapsed(),
                &usage,
                module.cpu_metrics,
            );
            shared.publish("cpu", module, ev);
        }
        Err(skip) => {
            shared.counters.cpu_skipped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(metricpipe_telemetry::catalog::AGENT_CPU_SKIPPED_TOTAL, "metricset" => "cpu")
                .increment(1);
            tracing::warn!(reason = %skip, "skipping this cpu sample: no cpu event for it");
        }
    }
    Some(cur)
}

pub(crate) fn memory_fetch(shared: &Shared, module: &ModuleConfig, root: &ProcRoot) {
    let started = SystemTime::now();
    let t0 = Instant::now();
    match root.meminfo() {
        Ok(info) => {
            let mem = Memory::from_meminfo(&info);
            let ev = memory_event(&context(shared, module), started, t0.elapsed(), &mem);
            shared.publish("memory", module, ev);
        }
        Err(e) => shared.collect_error("memory", &e),
    }
}

pub(crate) fn finish(shared: Shared, flush_timeout: Duration) -> Result<AgentStats, AgentError> {
    let mut stats = shared.stats();
    if let Output::Kafka { sink, .. } = shared.output {
        let s = sink.shutdown(flush_timeout);
        stats.sink = Some(s);
    }
    Ok(stats)
}
