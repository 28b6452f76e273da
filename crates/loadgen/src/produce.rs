//! Sending generated events to Kafka: as fast as the cluster takes them (a backlog), or paced.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metricpipe_kafka::{ClientRole, ClientSettings};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message};
use serde::Serialize;

use crate::event::{Clock, GenOptions, Generator, Kind};
use crate::LoadgenError;

/// How and how much to send.
#[derive(Debug, Clone)]
pub struct ProduceOptions {
    pub bootstrap_servers: String,
    pub topic: String,
    pub generator: GenOptions,
    /// Stop after this many events. `None` runs until [`Progress::stop`] (or `duration`).
    pub count: Option<u64>,
    /// Events per second; `None` sends as fast as the cluster acknowledges (backlog mode).
    pub rate: Option<f64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// `acks`: `all` (default, what drills want), `1` or `0`.
    pub acks: String,
    /// `compression.type`: `none` by default, so every contender reads the same bytes.
    pub compression: String,
    /// Extra librdkafka producer properties, applied last.
    pub client_properties: Vec<(String, String)>,
}

impl ProduceOptions {
    pub fn new(bootstrap_servers: impl Into<String>, topic: impl Into<String>) -> Self {
        ProduceOptions {
            bootstrap_servers: bootstrap_servers.into(),
            topic: topic.into(),
            generator: GenOptions::default(),
            count: None,
            rate: None,
            duration: None,
            acks: "all".into(),
            compression: "none".into(),
            client_properties: Vec::new(),
        }
    }
}

/// Live counters, shared with whoever draws a progress bar or wants to stop the run.
#[derive(Debug, Default)]
pub struct Progress {
    pub generated: AtomicU64,
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    stop: AtomicBool,
}

impl Progress {
    /// Ask the run to stop after the event in hand; what was sent is still flushed.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// What a run sent. `hot` is the number of alerts the streams app must make from it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub topic: String,
    pub seed: u64,
    pub hosts: u32,
    /// Ids `"<seed>-<first_seq>"` up to `"<seed>-<first_seq + events - 1>"`.
    pub first_seq: u64,
    pub events: u64,
    pub cpu: u64,
    pub memory: u64,
    pub hot: u64,
    pub bytes: u64,
    pub delivered: u64,
    pub failed: u64,
    pub elapsed_s: f64,
    pub events_per_s: f64,
    pub mb_per_s: f64,
}

struct CountingContext {
    progress: Arc<Progress>,
}

impl ClientContext for CountingContext {}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.progress.delivered.fetch_add(1, Ordering::Relaxed),
            Err((e, msg)) => {
                tracing::debug!(error = %e, partition = msg.partition(), "delivery failed");
                self.progress.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The producer's properties: ours for the mode, then [`ProduceOptions::client_properties`].
fn producer_config(opts: &ProduceOptions) -> ClientConfig {
    let idempotence = if opts.acks == "all" { "true" } else { "false" };
    let mut ours = vec![
        ("acks", opts.acks.as_str()),
        ("enable.idempotence", idempotence),
        ("compression.type", opts.compression.as_str()),
        // Transient warnings (a fresh cluster's "coordinator load in progress") would garble
        // the progress bar; real delivery failures are counted and reported in the summary.
        ("log_level", "3"),
    ];
    if opts.rate.is_none() {
        // Backlog mode wants throughput: big batches, a deep queue.
        ours.extend([
            ("linger.ms", "20"),
            ("batch.num.messages", "10000"),
            ("batch.size", "1000000"),
            ("queue.buffering.max.messages", "500000"),
            ("queue.buffering.max.kbytes", "1048576"),
        ]);
    } else {
        // Paced mode is what agents do; latency figures depend on a short linger.
        ours.push(("linger.ms", "5"));
    }
    ClientSettings::new(&opts.bootstrap_servers)
        .layer(opts.client_properties.iter().cloned())
        .client_config(ClientRole::Producer, ours)
}

/// Generate and send events until `count`, `duration` or [`Progress::stop`], then wait for every
/// delivery report (up to 60 s). Blocking; run it on a thread of its own.
pub fn produce(opts: &ProduceOptions, progress: Arc<Progress>) -> Result<Summary, LoadgenError> {
    if let Some(rate) = opts.rate {
        if !(rate > 0.0 && rate.is_finite()) {
            return Err(LoadgenError::Options(format!(
                "--rate must be a positive number of events per second, got {rate}"
            )));
        }
    }
    if opts.count.is_none() && opts.rate.is_none() && opts.duration.is_none() {
        return Err(LoadgenError::Options(
            "give --count N for a backlog, or --rate R (optionally with --count or --duration)"
                .into(),
        ));
    }
    let mut gen_opts = opts.generator.clone();
    if opts.rate.is_none() {
        if let Clock::Wall = gen_opts.clock {
            // A backlog is hours of collection at once: spread its timestamps as agents would.
            let rounds = opts.count.unwrap_or(0) / (2 * u64::from(gen_opts.hosts.max(1))) + 1;
            gen_opts.clock = Clock::Virtual {
                start_ms: now_ms() - (rounds * gen_opts.period_ms) as i64,
            };
        }
    }
    let mut generator = Generator::new(gen_opts)?;

    let producer: ThreadedProducer<CountingContext> = producer_config(opts)
        .create_with_context(CountingContext {
            progress: progress.clone(),
        })
        .map_err(|e| LoadgenError::Kafka {
            what: "creating the producer".into(),
            source: e,
        })?;

    let mut summary = Summary {
        topic: opts.topic.clone(),
        seed: opts.generator.seed,
        hosts: opts.generator.hosts,
        ..Summary::default()
    };
    let start = Instant::now();
    let deadline = opts.duration.map(|d| start + d);
    let mut n: u64 = 0;
    loop {
        if opts.count.is_some_and(|c| n >= c)
            || deadline.is_some_and(|d| Instant::now() >= d)
            || progress.stopped()
        {
            break;
        }
        if let Some(rate) = opts.rate {
            let due = start + Duration::from_secs_f64(n as f64 / rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let event = generator.next_event(now_ms());
        let mut record = BaseRecord::<(), str>::to(&opts.topic).payload(event.value.as_str());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => {
                    return Err(LoadgenError::Kafka {
                        what: format!("sending to {}", opts.topic),
                        source: e,
                    })
                }
            }
        }
        n += 1;
        summary.bytes += event.value.len() as u64;
        match event.kind {
            Kind::Cpu => summary.cpu += 1,
            Kind::Memory => summary.memory += 1,
        }
        summary.hot += u64::from(event.hot);
        progress.generated.store(n, Ordering::Relaxed);
    }
    summary.events = n;
    // Every event we generated must be accounted for; a stuck cluster must not hang us forever.
    let flush_deadline = Instant::now() + Duration::from_secs(60);
    while progress.delivered.load(Ordering::Relaxed) + progress.failed.load(Ordering::Relaxed) < n
        && Instant::now() < flush_deadline
    {
        let _ = producer.flush(Duration::from_millis(200));
    }
    let elapsed = start.elapsed().as_secs_f64();
    summary.delivered = progress.delivered.load(Ordering::Relaxed);
    summary.failed = progress.failed.load(Ordering::Relaxed);
    summary.elapsed_s = elapsed;
    summary.events_per_s = n as f64 / elapsed.max(1e-9);
    summary.mb_per_s = summary.bytes as f64 / 1e6 / elapsed.max(1e-9);
    if summary.delivered + summary.failed < n {
        return Err(LoadgenError::Undelivered {
            pending: n - summary.delivered - summary.failed,
            topic: opts.topic.clone(),
            bootstrap: opts.bootstrap_servers.clone(),
        });
    }
    Ok(summary)
}
