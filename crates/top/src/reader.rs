//! Reads the pipeline's topics for the dashboard: every partition assigned directly (no
//! consumer group), starting at the first record of the look-back window found with
//! `offsets_for_times`, on a background thread that hands records over a bounded channel.
//! Partitions added while it runs (and topics created since it started) are found by
//! reading the metadata every 5 s and read from their first record.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metricpipe_kafka::partitions::PartitionWatch;
use metricpipe_kafka::{topics, ClientRole, ClientSettings};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::model::TopicRole;
use crate::{Result, TopError};

/// The topic name behind each role.
#[derive(Debug, Clone)]
pub struct Topics {
    pub all: String,
    pub cpu: String,
    pub memory: String,
    pub alert: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            all: topics::INPUT.into(),
            cpu: topics::CPU.into(),
            memory: topics::MEMORY.into(),
            alert: topics::ALERT.into(),
        }
    }
}

impl Topics {
    pub fn name(&self, role: TopicRole) -> &str {
        match role {
            TopicRole::All => &self.all,
            TopicRole::Cpu => &self.cpu,
            TopicRole::Memory => &self.memory,
            TopicRole::Alert => &self.alert,
        }
    }

    fn role_of(&self, topic: &str) -> Option<TopicRole> {
        TopicRole::ALL.into_iter().find(|r| self.name(*r) == topic)
    }
}

/// Where and how far back to read.
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    pub bootstrap_servers: String,
    pub topics: Topics,
    /// Read back this much history, by record timestamp, so the screen fills at once.
    pub lookback: Duration,
    /// Extra librdkafka properties.
    pub client_properties: Vec<(String, String)>,
}

impl ReaderOptions {
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        ReaderOptions {
            bootstrap_servers: bootstrap_servers.into(),
            topics: Topics::default(),
            lookback: Duration::from_secs(300),
            client_properties: Vec::new(),
        }
    }
}

/// One record as the dashboard needs it.
#[derive(Debug, Clone)]
pub struct Record {
    pub role: TopicRole,
    pub payload: Vec<u8>,
    /// Record timestamp, ms since the epoch.
    pub timestamp_ms: i64,
}

/// A running reader. Dropping it stops its thread.
pub struct Reader {
    rx: Receiver<Record>,
    stop: Arc<AtomicBool>,
    last_error: Arc<Mutex<Option<String>>>,
    missing: Vec<String>,
    thread: Option<JoinHandle<()>>,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Reader {
    /// Connect, find each topic's partitions and their look-back offsets, and start reading.
    /// Topics that do not exist are skipped (see [`missing_topics`](Self::missing_topics));
    /// if none exists, this fails with a hint to create them.
    pub fn start(opts: ReaderOptions) -> Result<Reader> {
        let group = format!("metricpipe-top-unjoined-{}", std::process::id());
        let cfg = ClientSettings::new(&opts.bootstrap_servers)
            .layer(opts.client_properties.iter().cloned())
            .client_config(
                ClientRole::Consumer,
                [
                    // assign() needs a group.id; assigning without commits never joins or
                    // creates it.
                    ("group.id", group.as_str()),
                    ("enable.auto.commit", "false"),
                    ("enable.auto.offset.store", "false"),
                    ("enable.partition.eof", "false"),
                    ("log_level", "3"),
                ],
            );
        let consumer: BaseConsumer = cfg.create().map_err(|e| TopError::Kafka {
            what: "creating the consumer".into(),
            detail: e.to_string(),
        })?;
        let timeout = Duration::from_secs(15);
        let since = now_ms() - opts.lookback.as_millis() as i64;
        let mut wanted = TopicPartitionList::new();
        let mut missing = Vec::new();
        for role in TopicRole::ALL {
            let name = opts.topics.name(role);
            let md = consumer.fetch_metadata(Some(name), timeout).map_err(|e| {
                TopError::Unreachable {
                    bootstrap: opts.bootstrap_servers.clone(),
                    detail: e.to_string(),
                }
            })?;
            match md.topics().iter().find(|t| t.name() == name) {
                Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                    for p in t.partitions() {
                        wanted
                            .add_partition_offset(name, p.id(), Offset::Offset(since))
                            .map_err(|e| TopError::Kafka {
                                what: "building the assignment".into(),
                                detail: e.to_string(),
                            })?;
                    }
                }
                _ => missing.push(name.to_string()),
            }
        }
        if wanted.count() == 0 {
            return Err(TopError::NoTopics {
                bootstrap: opts.bootstrap_servers.clone(),
                topics: missing.join(", "),
            });
        }
        // Topics created a moment ago may have no leader yet (NotLeaderForPartition): retry
        // for a while before giving up.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let found = loop {
            match consumer.offsets_for_times(wanted.clone(), timeout) {
                Ok(found) => break found,
                Err(e) if std::time::Instant::now() < deadline => {
                    tracing::debug!(error = %e, "offsets_for_times failed; retrying");
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => {
                    return Err(TopError::Kafka {
                        what: "looking up offsets by time".into(),
                        detail: e.to_string(),
                    })
                }
            }
        };
        let mut start = TopicPartitionList::new();
        for e in found.elements() {
            // No record at or after the time: start at the end.
            let offset = match e.offset() {
                Offset::Offset(o) if o >= 0 => Offset::Offset(o),
                _ => Offset::End,
            };
            start
                .add_partition_offset(e.topic(), e.partition(), offset)
                .map_err(|e| TopError::Kafka {
                    what: "building the assignment".into(),
                    detail: e.to_string(),
                })?;
        }
        consumer.assign(&start).map_err(|e| TopError::Kafka {
            what: "assigning partitions".into(),
            detail: e.to_string(),
        })?;

        let names: Vec<&str> = TopicRole::ALL
            .iter()
            .map(|r| opts.topics.name(*r))
            .collect();
        let watch = PartitionWatch::new(
            &names,
            start
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition())),
        );
        let (tx, rx) = std::sync::mpsc::sync_channel(20_000);
        let stop = Arc::new(AtomicBool::new(false));
        let last_error = Arc::new(Mutex::new(None));
        let thread = {
            let stop = stop.clone();
            let last_error = last_error.clone();
            let topics = opts.topics.clone();
            std::thread::Builder::new()
                .name("top-reader".into())
                .spawn(move || read_loop(consumer, watch, topics, tx, stop, last_error))
                .map_err(|e| TopError::Kafka {
                    what: "starting the reader thread".into(),
                    detail: e.to_string(),
                })?
        };
        Ok(Reader {
            rx,
            stop,
            last_error,
            missing,
            thread: Some(thread),
        })
    }

    /// Records that arrived since the last call, at most `max`.
    pub fn drain(&self, max: usize) -> Vec<Record> {
        self.rx.try_iter().take(max).collect()
    }

    /// The latest consumer error, if the last poll failed (brokers down, say).
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Topics that did not exist at start.
    pub fn missing_topics(&self) -> &[String] {
        &self.missing
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_loop(
    consumer: BaseConsumer,
    mut watch: PartitionWatch,
    topics: Topics,
    tx: SyncSender<Record>,
    stop: Arc<AtomicBool>,
    last_error: Arc<Mutex<Option<String>>>,
) {
    let set_error = |e: Option<String>| {
        *last_error.lock().unwrap_or_else(|p| p.into_inner()) = e;
    };
    let mut pending: Option<Record> = None;
    while !stop.load(Ordering::SeqCst) {
        // The channel is bounded: when the screen lags behind, wait here instead of
        // growing memory without bound.
        if let Some(rec) = pending.take() {
            match tx.try_send(rec) {
                Ok(()) => {}
                Err(TrySendError::Full(rec)) => {
                    pending = Some(rec);
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(msg)) => {
                set_error(None);
                let Some(role) = topics.role_of(msg.topic()) else {
                    continue;
                };
                pending = Some(Record {
                    role,
                    payload: msg.payload().unwrap_or_default().to_vec(),
                    timestamp_ms: msg.timestamp().to_millis().unwrap_or_else(now_ms),
                });
            }
            Some(Err(e)) => set_error(Some(e.to_string())),
            None => {}
        }
        // Partitions added, and pipeline topics created, since the start.
        watch.assign_new(&consumer);
    }
}
