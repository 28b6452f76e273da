//! The run loop: poll a record, process it, send its outputs; housekeeping every 64
//! records or when the queue runs dry (a clock read and a producer poll per record cost
//! more than the topology itself).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::{counter, histogram};
use rdkafka::consumer::Consumer;
use tracing::{debug, error, info, warn};

use super::commit::{
    CommitKind, CommitOutcome, CommitPolicy, Committer, ConsumerCommits, SystemClock,
};
use super::dlq::DeadLetters;
use super::process::Processor;
use super::producer::{KafkaOutputs, ProducerCtx};
use super::rebalance::{ConsumerCtx, StreamsConsumer};
use super::shared::{Shared, Stop};
use super::sink::Sink;
use super::transaction::{self, Transactions};
use super::{shutdown, RunSummary, RuntimeConfig, StreamsError};
use crate::dsl::Topology;
use crate::ProcessingGuarantee;

/// The longest one transactional call (init, commit, abort) blocks the loop: a commit that
/// takes longer is tried again at the next housekeeping.
const TXN_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `topology` until `stop` is set (or a fatal client error, or a record rejected
/// under `LogAndFail`), then drains, commits and leaves the group within
/// `config.shutdown_timeout`. `stop` is only read: a run that fails returns its error.
///
/// # Errors
/// [`StreamsError`]: the clients could not be created or subscribe, a client failed for
/// good, or a record was rejected under `LogAndFail`.
pub fn run<X>(
    topology: &Topology<X>,
    config: &RuntimeConfig,
    stop: Arc<AtomicBool>,
) -> Result<RunSummary, StreamsError> {
    run_until(topology, config, Stop::new(stop))
}

/// [`run`] with the stop of a stream thread (see `threads`).
pub(super) fn run_until<X>(
    topology: &Topology<X>,
    config: &RuntimeConfig,
    stop: Stop,
) -> Result<RunSummary, StreamsError> {
    let shared = Arc::new(Shared::new(config.client.bootstrap.clone(), stop));
    let (consumer, sink) = start_clients(topology, config, &shared)?;
    let mut lp = Loop::new(topology, config, Arc::clone(&shared), Arc::clone(&sink));
    lp.run(&consumer);
    let summary = lp.finish_summary();
    drop(lp);
    shutdown::finish(consumer, sink, &shared, config.shutdown_timeout);
    let mut state = shared.state();
    if let Some(fatal) = state.fatal.take() {
        return Err(fatal);
    }
    if let Some(record) = state.failed_record.take() {
        return Err(StreamsError::BadRecord(record));
    }
    Ok(summary)
}

fn start_clients<X>(
    topology: &Topology<X>,
    config: &RuntimeConfig,
    shared: &Arc<Shared>,
) -> Result<(StreamsConsumer, Arc<Sink>), StreamsError> {
    let limits =
        crate::oversize::SizeLimits::for_run(topology, config, &|| shared.stop.requested());
    let exactly_once = config.processing_guarantee == ProcessingGuarantee::ExactlyOnceV2;
    let producer = limits
        .producer_config(config.producer_config())
        .create_with_context(ProducerCtx(Arc::clone(shared)))
        .map_err(|source| StreamsError::Client {
            what: "producer",
            source,
        })?;
    let out = KafkaOutputs {
        shared: Arc::clone(shared),
        producer,
        transactional: exactly_once,
        abandoned: AtomicBool::new(false),
    };
    let committer: Box<dyn Committer> = if exactly_once {
        let txn = Transactions {
            timeout: TXN_CALL_TIMEOUT,
            state: Mutex::new(Default::default()),
        };
        txn.start(&out)?;
        Box::new(txn)
    } else {
        Box::new(ConsumerCommits)
    };
    let dlq = DeadLetters {
        topic: config.dlq_topic.clone(),
        max_value_bytes: config.dlq_max_value_bytes,
        records: counter!(metricpipe_telemetry::catalog::STREAMS_DLQ_RECORDS_TOTAL),
    };
    let sink = Arc::new(Sink::new(out, dlq, config.drain_timeout, limits, committer));
    let consumer: StreamsConsumer = config
        .consumer_config()
        .create_with_context(ConsumerCtx {
            shared: Arc::clone(shared),
            sink: Mutex::new(Some(Arc::clone(&sink))),
            transactional: exactly_once,
        })
        .map_err(|source| StreamsError::Client {
            what: "consumer",
            source,
        })?;
    let topics = topology.source_topics();
    consumer
        .subscribe(&topics)
        .map_err(|source| StreamsError::Subscribe {
            topics: topics.iter().map(|t| t.to_string()).collect(),
            source,
        })?;
    info!(application_id = %config.application_id, bootstrap = %config.client.bootstrap,
        topics = ?topics, commit_interval = ?config.commit_interval,
        processing_guarantee = %config.processing_guarantee, "streams started");
    // Its metadata request waits up to 5 s for unreachable brokers: not once a stop is asked.
    if !shared.stop.requested() {
        warn_missing_topics(&consumer, topology, config);
    }
    Ok((consumer, sink))
}

struct Loop<'a, X> {
    processor: Processor<'a, X>,
    shared: Arc<Shared>,
    sink: Arc<Sink>,
    exit_when_idle: Option<Duration>,
    policy: CommitPolicy<SystemClock>,
    since_poll: u32,
}

impl<'a, X> Loop<'a, X> {
    fn new(
        topology: &'a Topology<X>,
        config: &'a RuntimeConfig,
        shared: Arc<Shared>,
        sink: Arc<Sink>,
    ) -> Self {
        Loop {
            processor: Processor::new(topology, config, Arc::clone(&shared), Arc::clone(&sink)),
            shared,
            sink,
            exit_when_idle: config.exit_when_idle,
            policy: CommitPolicy::new(SystemClock, config.commit_interval),
            since_poll: 0,
        }
    }

    fn run(&mut self, consumer: &StreamsConsumer) {
        while !self.shared.stop.requested() {
            if self.sink.commit_blocked() {
                self.resume_commit(consumer);
                continue;
            }
            // With housekeeping due, don't wait for the next record: do it as soon as the
            // prefetch queue is empty.
            let wait = if self.since_poll > 0 {
                Duration::ZERO
            } else {
                Duration::from_millis(100)
            };
            match consumer.poll(wait) {
                None => {
                    if self.idle_long_enough() {
                        break;
                    }
                }
                Some(Err(e)) => self.consumer_error(consumer, &e),
                Some(Ok(msg)) => {
                    self.processor.process(&msg);
                    self.since_poll += 1;
                    if self.since_poll < 64 {
                        continue;
                    }
                    self.processor.last_record = Instant::now();
                }
            }
            self.since_poll = 0;
            self.housekeeping(consumer);
        }
        if self.processor.first_record.is_some() && self.since_poll > 0 {
            self.processor.last_record = Instant::now();
        }
    }

    fn idle_long_enough(&self) -> bool {
        let (Some(idle), Some(_)) = (self.exit_when_idle, self.processor.first_record) else {
            return false;
        };
        let done = self.processor.last_record.elapsed() >= idle;
        if done {
            info!(idle = ?idle, "no record for the idle timeout; stopping");
        }
        done
    }

    fn consumer_error(&self, consumer: &StreamsConsumer, e: &rdkafka::error::KafkaError) {
        if let Some((code, reason)) = consumer.client().fatal_error() {
            self.shared.fatal("consumer", code, &reason);
        } else if let Some(suppressed) = self.shared.broker_trouble.check() {
            warn!(error = %e, suppressed, "consumer error; still polling");
        }
    }

    fn housekeeping(&mut self, consumer: &StreamsConsumer) {
        self.sink.serve_delivery_reports();
        self.sink.log_failures(false);
        let due = self.policy.poll(&self.shared.state().tracker);
        if let Some(c) = due {
            // How stale a commit is when it leaves: a crash replays this much input on top
            // of the interval (and the commit's own round trip).
            histogram!(metricpipe_telemetry::catalog::STREAMS_COMMIT_WAIT_SECONDS)
                .record(c.waited.as_secs_f64());
            debug!(waited = ?c.waited, gave_up = c.gave_up, "interval commit");
            match self.sink.commit(consumer, CommitKind::Interval, None) {
                CommitOutcome::Failed => self.policy.failed(),
                CommitOutcome::Aborted(to) => transaction::rewind(consumer, &self.shared, &to),
                CommitOutcome::Committed | CommitOutcome::Nothing => {}
            }
        }
    }

    /// A transactional commit or abort timed out (brokers away): resume it before taking
    /// more records, as librdkafka refuses their outputs until it completes.
    fn resume_commit(&mut self, consumer: &StreamsConsumer) {
        match self.sink.commit(consumer, CommitKind::Interval, None) {
            CommitOutcome::Aborted(to) => transaction::rewind(consumer, &self.shared, &to),
            CommitOutcome::Failed => std::thread::sleep(Duration::from_millis(50)),
            CommitOutcome::Committed | CommitOutcome::Nothing => {}
        }
    }

    fn finish_summary(&mut self) -> RunSummary {
        self.processor.finish_summary()
    }
}

/// One clear line per topic the run needs that the cluster does not have (brokers here
/// do not create topics): reading or writing it waits until someone creates it.
fn warn_missing_topics<X>(
    consumer: &StreamsConsumer,
    topology: &Topology<X>,
    config: &RuntimeConfig,
) {
    // Unreachable brokers are reported by the error callback; no need to say it twice.
    let Ok(metadata) = consumer.fetch_metadata(None, Duration::from_secs(5)) else {
        return;
    };
    let existing: Vec<&str> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| t.name())
        .collect();
    let needed = topology
        .source_topics()
        .into_iter()
        .chain(topology.sink_topics().iter().map(String::as_str))
        .chain(config.dlq_topic.as_deref());
    for topic in needed {
        if existing.contains(&topic) {
            continue;
        }
        // Absent from the all-topics answer: missing, or hidden by a missing ACL.
        match metricpipe_kafka::access::topic_access(consumer, topic, Duration::from_secs(5)) {
            Ok(metricpipe_kafka::access::TopicAccess::NotAuthorized) => {
                error!(topic, "{}", metricpipe_kafka::access::not_authorized_message(topic))
            }
            _ => warn!(topic, "this topic does not exist: create it (e.g. `metricpipe topics create`); its records wait until then"),
        }
    }
}
