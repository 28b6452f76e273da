//! Processing one record: position check, topology, outputs and dead letters. The run
//! loop hands each record to its [`Processor`]; what a run did adds up in its summary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{counter, Counter};
use rdkafka::message::{BorrowedMessage, Message};
use tracing::{error, info, warn};

use super::dlq::{self, Origin};
use super::offsets::{DeliveryToken, Moved, TrackId};
use super::producer::Sent;
use super::shared::{RateLimit, Shared};
use super::sink::Sink;
use super::{RejectedRecord, RunSummary, RuntimeConfig};
use crate::dsl::{Output, Reason, SinkId, Topology};

/// The partition of the last record: most records repeat it.
struct LastPartition {
    topic: String,
    partition: i32,
    source: usize,
    track: TrackId,
    generation: u64,
}

/// Runs records through the topology and hands their outputs to the sink.
pub(super) struct Processor<'a, X> {
    topology: &'a Topology<X>,
    config: &'a RuntimeConfig,
    shared: Arc<Shared>,
    sink: Arc<Sink>,
    records_in: Vec<Counter>,
    records_out: Vec<Counter>,
    bad_log: RateLimit,
    position_log: RateLimit,
    summary: RunSummary,
    batch: Batch,
    last: Option<LastPartition>,
    /// When the first record came (`None` before), and the last one was processed: the
    /// run loop's idle timeout and the summary's busy time.
    pub(super) first_record: Option<Instant>,
    pub(super) last_record: Instant,
}

impl<'a, X> Processor<'a, X> {
    pub(super) fn new(
        topology: &'a Topology<X>,
        config: &'a RuntimeConfig,
        shared: Arc<Shared>,
        sink: Arc<Sink>,
    ) -> Self {
        let topic_counter = |name: &'static str, t: &str| counter!(name, "topic" => t.to_string());
        Processor {
            topology,
            config,
            shared,
            sink,
            records_in: topology
                .source_topics()
                .iter()
                .map(|t| topic_counter("metricpipe_streams_records_in_total", t))
                .collect(),
            records_out: topology
                .sink_topics()
                .iter()
                .map(|t| topic_counter("metricpipe_streams_records_out_total", t))
                .collect(),
            bad_log: RateLimit::new(Duration::from_secs(1)),
            position_log: RateLimit::new(Duration::from_secs(1)),
            summary: RunSummary::default(),
            batch: Batch::default(),
            last: None,
            first_record: None,
            last_record: Instant::now(),
        }
    }

    pub(super) fn finish_summary(&mut self) -> RunSummary {
        if let Some(first) = self.first_record {
            self.summary.busy = self.last_record.duration_since(first);
        }
        let s = &self.summary;
        let rate = s.records_in as f64 / s.busy.as_secs_f64().max(1e-3);
        info!(records_in = s.records_in, records_out = s.records_out, rejected = s.rejected,
            skipped_offsets = s.skipped_offsets, busy = ?s.busy,
            records_per_second = rate as u64, "processing stopped");
        s.clone()
    }

    pub(super) fn process(&mut self, msg: &BorrowedMessage<'_>) {
        let origin = Origin {
            topic: msg.topic(),
            partition: msg.partition(),
            offset: msg.offset(),
        };
        let value = msg.payload().unwrap_or_default();
        let (source, track) = self.partition_of(&origin);
        self.summary.records_in += 1;
        if self.first_record.is_none() {
            self.last_record = Instant::now();
            self.first_record = Some(self.last_record);
        }
        if let Some(c) = self.records_in.get(source) {
            c.increment(1);
        }
        let b = &mut self.batch;
        b.input = (value.as_ptr() as usize, value.len());
        b.outputs.clear();
        b.scratch.clear();
        b.rejections.clear();
        self.topology.process(source, value, b);
        if self.fails_on_rejection(&origin) {
            // Not registered: no commit point, nor the position past it, may pass it.
            self.shared
                .state()
                .tracker
                .handed_over(track, origin.offset);
            return;
        }

        let b = &self.batch;
        let dead_letters = if self.sink.dead_letters_enabled() {
            b.rejections.len()
        } else {
            0
        };
        let outputs = (b.outputs.len() + dead_letters) as u32;
        let (moved, token) = {
            let tracker = &mut self.shared.state().tracker;
            let moved = tracker.observe(track, origin.offset);
            (moved, tracker.register(track, origin.offset, outputs))
        };
        self.report_move(&origin, moved);
        if let Some(token) = token {
            self.send_outputs(value, &origin, token);
        }
        if !self.batch.rejections.is_empty() {
            self.reject(value, &origin, token);
        }
    }

    /// Under `LogAndFail`, a rejection stops the run before the record is registered, so
    /// no commit passes it and a restart meets it again, as in Kafka Streams.
    fn fails_on_rejection(&mut self, o: &Origin<'_>) -> bool {
        let Some((node, reason)) =
            self.batch.rejections.iter().find(|(_, r)| {
                self.config.handler_for(r.code) == crate::ExceptionHandler::LogAndFail
            })
        else {
            return false;
        };
        counter!(metricpipe_telemetry::catalog::STREAMS_BAD_RECORDS_TOTAL, "reason" => reason.code)
            .increment(1);
        self.summary.rejected += 1;
        let record = RejectedRecord {
            topic: o.topic.into(),
            partition: o.partition,
            offset: o.offset,
            node: node.as_str().into(),
            reason: reason.code,
            detail: reason.detail.as_ref().into(),
        };
        error!(topic = o.topic, partition = o.partition, offset = o.offset, node = %node,
            reason = reason.code, detail = %reason.detail, "record rejected; the exception handler is LogAndFail: stopping");
        self.shared.state().failed_record.get_or_insert(record);
        self.shared.stop.halt();
        true
    }

    /// The partition's source id and track, from the cache when the same as last time.
    fn partition_of(&mut self, o: &Origin<'_>) -> (usize, TrackId) {
        let generation = self.shared.state().tracker.generation();
        if let Some(l) = &self.last {
            if l.partition == o.partition && l.generation == generation && l.topic == o.topic {
                return (l.source, l.track);
            }
        }
        let source = self.topology.source_id(o.topic).unwrap_or(0);
        let mut state = self.shared.state();
        let tracker = &mut state.tracker;
        let track = tracker.assign(o.topic, o.partition, None);
        self.last = Some(LastPartition {
            topic: o.topic.to_string(),
            partition: o.partition,
            source,
            track,
            generation: tracker.generation(),
        });
        (source, track)
    }

    /// The consumer's position moved without a record being processed: say so.
    fn report_move(&mut self, o: &Origin<'_>, moved: Moved) {
        match moved {
            Moved::InOrder => {}
            Moved::Skipped { from, to } => {
                let skipped = (to - from) as u64;
                self.summary.skipped_offsets += skipped;
                counter!(metricpipe_telemetry::catalog::STREAMS_SKIPPED_OFFSETS_TOTAL, "topic" => o.topic.to_string(), "partition" => o.partition.to_string())
                    .increment(skipped);
                if let Some(suppressed) = self.position_log.check() {
                    warn!(topic = o.topic, partition = o.partition, from, to, skipped, suppressed,
                        "offsets {from}..{to} of {}[{}] were skipped without being processed (deleted by retention before they were read, compacted, or transaction markers)",
                        o.topic, o.partition);
                }
            }
            Moved::Rewound { from, to } => {
                self.summary.rewinds += 1;
                counter!(metricpipe_telemetry::catalog::STREAMS_POSITION_REWINDS_TOTAL, "topic" => o.topic.to_string(), "partition" => o.partition.to_string())
                    .increment(1);
                warn!(topic = o.topic, partition = o.partition, from, to,
                    "the position of {}[{}] went back from {from} to {to} (topic re-created or log truncated); its commit point follows",
                    o.topic, o.partition);
            }
        }
    }

    fn send_outputs(&mut self, value: &[u8], o: &Origin<'_>, token: DeliveryToken) {
        let sinks = self.topology.sink_topics();
        for (sink, span) in &self.batch.outputs {
            let bytes = match span {
                None => value,
                Some(r) => &self.batch.scratch[r.clone()],
            };
            let topic_out = sinks[*sink].as_str();
            match self.sink.send(topic_out, bytes, token) {
                Sent::Queued => {
                    self.summary.records_out += 1;
                    self.records_out[*sink].increment(1);
                }
                // A missing ACL stops the run; the record stays uncommitted.
                Sent::Refused(e) if self.sink.refused_access(topic_out, &e) => {}
                Sent::Refused(e) => {
                    counter!(metricpipe_telemetry::catalog::STREAMS_BAD_RECORDS_TOTAL, "reason" => metricpipe_telemetry::BadRecordReason::RefusedByProducer.as_str()).increment(1);
                    warn!(topic = topic_out, error = %e, bytes = bytes.len(), "the producer refused an output record");
                    let headers = dlq::headers(
                        metricpipe_telemetry::BadRecordReason::RefusedByProducer.as_str(),
                        &e.to_string(),
                        "",
                        topic_out,
                        o,
                    );
                    if !self.sink.dead_letter(bytes, headers, token) {
                        self.shared.state().tracker.ack(token);
                    }
                }
                Sent::Abandoned => {}
            }
        }
    }

    fn reject(&mut self, value: &[u8], o: &Origin<'_>, token: Option<DeliveryToken>) {
        self.summary.rejected += self.batch.rejections.len() as u64;
        let sinks = self.topology.sink_topics();
        let routed: Vec<&str> = self
            .batch
            .outputs
            .iter()
            .map(|(s, _)| sinks[*s].as_str())
            .collect();
        let routed = routed.join(",");
        for (node, reason) in &self.batch.rejections {
            counter!(metricpipe_telemetry::catalog::STREAMS_BAD_RECORDS_TOTAL, "reason" => reason.code).increment(1);
            if let Some(suppressed) = self.bad_log.check() {
                warn!(topic = o.topic, partition = o.partition, offset = o.offset, node = %node,
                    reason = reason.code, detail = %reason.detail, suppressed, "record rejected");
            }
            let Some(token) = token.filter(|_| self.sink.dead_letters_enabled()) else {
                continue;
            };
            let headers = dlq::headers(reason.code, &reason.detail, node, &routed, o);
            if self.sink.dead_letter(value, headers, token) {
                self.summary.dead_letters += 1;
            } else {
                self.shared.state().tracker.ack(token);
            }
        }
    }
}

/// Collects one record's outputs, so they can be counted before any is sent.
#[derive(Default)]
struct Batch {
    input: (usize, usize),
    outputs: Vec<(SinkId, Option<std::ops::Range<usize>>)>,
    scratch: Vec<u8>,
    rejections: Vec<(String, Reason)>,
}

impl Output for Batch {
    fn emit(&mut self, sink: SinkId, _topic: &str, value: &[u8]) {
        // The input's own bytes (an unmapped record) are sent from the input, uncopied.
        if (value.as_ptr() as usize, value.len()) == self.input {
            self.outputs.push((sink, None));
        } else {
            let start = self.scratch.len();
            self.scratch.extend_from_slice(value);
            self.outputs.push((sink, Some(start..self.scratch.len())));
        }
    }

    fn reject(&mut self, node: &str, reason: Reason) {
        self.rejections.push((node.to_string(), reason));
    }
}
