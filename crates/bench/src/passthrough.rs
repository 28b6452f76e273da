//! The machine's ceiling: consume and produce again, with no parsing at all.
//!
//! Whatever our streams app does beyond this loop (JSON scanning, routing, alert building,
//! offset bookkeeping) is what it costs over the ceiling.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metricpipe_kafka::{ClientRole, ClientSettings};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Message};

use crate::BenchError;

/// Where to read and write, and client settings.
#[derive(Debug, Clone)]
pub struct PassthroughOptions {
    pub bootstrap_servers: String,
    pub group_id: String,
    pub input: String,
    pub output: String,
    /// librdkafka properties; `consumer.`/`producer.` prefixes pick one side.
    pub properties: Vec<(String, String)>,
}

// The same client settings as the streams runtime (`consumer_config`/`producer_config` in
// crates/streams/src/runtime/config.rs), so "% of the ceiling" compares like with like: a ceiling on
// other settings measures the settings, not the topology's cost. Keep the two in step.
const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.auto.commit", "true"),
    ("auto.commit.interval.ms", "1000"),
    ("auto.offset.reset", "earliest"),
    ("queued.max.messages.kbytes", "4096"),
    ("fetch.max.bytes", "4194304"),
    ("fetch.queue.backoff.ms", "10"),
];

const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("linger.ms", "20"),
    ("compression.type", "lz4"),
    ("batch.num.messages", "10000"),
    ("queue.buffering.max.kbytes", "4096"),
];

/// One side's config: ours, then `defaults`, then the operator's properties in
/// metricpipe-kafka's precedence (as the streams runtime's clients get them).
fn config(opts: &PassthroughOptions, role: ClientRole, defaults: &[(&str, &str)]) -> ClientConfig {
    let ours = [("socket.nagle.disable", "true"), ("log_level", "4")];
    ClientSettings::new(&opts.bootstrap_servers)
        .layer(opts.properties.iter().cloned())
        .client_config(role, ours.into_iter().chain(defaults.iter().copied()))
}

/// Copy records from `input` to `output` until `stop` is set. Returns the number copied.
/// `copied` is updated as it goes, for progress.
pub fn passthrough(
    opts: &PassthroughOptions,
    stop: Arc<AtomicBool>,
    copied: Arc<AtomicU64>,
) -> Result<u64, BenchError> {
    let kafka = |what: &'static str| move |source| BenchError::Kafka { what, source };
    let consumer: BaseConsumer = config(opts, ClientRole::Consumer, CONSUMER_DEFAULTS)
        .set("group.id", &opts.group_id)
        .create()
        .map_err(kafka("creating the pass-through consumer"))?;
    let producer: ThreadedProducer<DefaultProducerContext> =
        config(opts, ClientRole::Producer, PRODUCER_DEFAULTS)
            .create()
            .map_err(kafka("creating the pass-through producer"))?;
    consumer
        .subscribe(&[&opts.input])
        .map_err(kafka("subscribing"))?;
    let mut n = 0u64;
    let mut last_report = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let Some(msg) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "consume error");
                continue;
            }
        };
        let mut record =
            BaseRecord::<(), [u8]>::to(&opts.output).payload(msg.payload().unwrap_or(&[]));
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_micros(500));
                }
                Err((e, _)) => {
                    return Err(BenchError::Kafka {
                        what: "producing",
                        source: e,
                    })
                }
            }
        }
        n += 1;
        if last_report.elapsed() > Duration::from_millis(100) {
            copied.store(n, Ordering::Relaxed);
            last_report = Instant::now();
        }
    }
    copied.store(n, Ordering::Relaxed);
    let _ = producer.flush(Duration::from_secs(10));
    Ok(n)
}
