//! The runtime's settings and the clients' librdkafka properties.

use std::time::Duration;

use metricpipe_kafka::{ClientRole, ClientSettings};
use metricpipe_telemetry::BadRecordReason;
use rdkafka::config::ClientConfig;

use crate::guarantee::{ExceptionHandler, ProcessingGuarantee, DEFAULT_COMMIT_INTERVAL};

/// Kubernetes' default grace period: a pod is killed 30 s after its SIGTERM.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// How the runtime talks to Kafka.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The brokers and the operator's librdkafka properties for both clients
    /// (`consumer.`/`producer.` prefixed keys go to one side only); they override our
    /// defaults.
    pub client: ClientSettings,
    /// Also the consumer group id.
    pub application_id: String,
    /// `at_least_once` (the default) or `exactly_once_v2`.
    pub processing_guarantee: ProcessingGuarantee,
    /// Under `exactly_once_v2`, each commit also commits the open transaction.
    pub commit_interval: Duration,
    /// Kafka Streams' process id: the middle of the transactional id under
    /// `exactly_once_v2` (see [`transactional_id`](Self::transactional_id)). Random per
    /// start, as Kafka Streams' is for a topology without state stores.
    pub process_id: String,
    /// Where rejected records go, with reason headers. `None`: counted and logged only.
    pub dlq_topic: Option<String>,
    /// Dead letters larger than this are cut to this size (header `truncated-from`), so a
    /// record too large for the output topics still leaves a trace. The default, 900,000,
    /// fits under librdkafka's and the brokers' default limits (about 1 MB) with the headers.
    pub dlq_max_value_bytes: usize,
    /// How long a revoke waits for in-flight outputs.
    pub drain_timeout: Duration,
    /// From the stop request to the return of [`run`](super::run), whatever the brokers
    /// do: the drain, the final commit and leaving the group share it.
    pub shutdown_timeout: Duration,
    /// Stop (drain, commit, leave) once no record came for this long after the first one:
    /// for catching up on a backlog and for benchmarks. `None`: run until stopped.
    pub exit_when_idle: Option<Duration>,
    /// For records that are not UTF-8 JSON (`not-utf8`, `not-json`): Kafka Streams'
    /// `default.deserialization.exception.handler`.
    pub deserialization_exception_handler: ExceptionHandler,
    /// For every other rejected record: Kafka Streams' `processing.exception.handler`.
    pub processing_exception_handler: ExceptionHandler,
    /// Processing loops in the process, each with its own consumer and producer in the
    /// same group, like Kafka Streams' `num.stream.threads` ([`run_stream_threads`](super::run_stream_threads)).
    pub num_stream_threads: usize,
    /// Which of those loops this config is for (0-based; set by `run_stream_threads`):
    /// it names the clients `<application id>-StreamThread-<n>-consumer` (n from 1), as
    /// Kafka Streams names its threads' clients. `None`: `<application id>-consumer`.
    pub stream_thread: Option<usize>,
}

impl RuntimeConfig {
    pub fn new(bootstrap_servers: impl Into<String>, application_id: impl Into<String>) -> Self {
        RuntimeConfig {
            client: ClientSettings::new(bootstrap_servers),
            application_id: application_id.into(),
            processing_guarantee: ProcessingGuarantee::AtLeastOnce,
            commit_interval: DEFAULT_COMMIT_INTERVAL,
            process_id: uuid::Uuid::new_v4().to_string(),
            dlq_topic: None,
            dlq_max_value_bytes: 900_000,
            drain_timeout: Duration::from_secs(30),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            exit_when_idle: None,
            deserialization_exception_handler: ExceptionHandler::LogAndContinue,
            processing_exception_handler: ExceptionHandler::LogAndContinue,
            num_stream_threads: 1,
            stream_thread: None,
        }
    }

    /// The start of every client id of this loop: the application id, plus
    /// `-StreamThread-<n>` for one of several loops.
    pub fn client_id_base(&self) -> String {
        match self.stream_thread {
            Some(i) => format!("{}-StreamThread-{}", self.application_id, i + 1),
            None => self.application_id.clone(),
        }
    }

    /// The handler for a rejection's reason code.
    pub fn handler_for(&self, reason: &str) -> ExceptionHandler {
        match BadRecordReason::from_code(reason) {
            Some(BadRecordReason::NotUtf8 | BadRecordReason::NotJson) => {
                self.deserialization_exception_handler
            }
            _ => self.processing_exception_handler,
        }
    }

    /// The producer's `transactional.id` under `exactly_once_v2`, as Kafka Streams names
    /// it: `<application.id>-<process id>-<thread index>`. The process id is the
    /// consumer's `group.instance.id` when the operator set one (static membership names an
    /// instance for good), so a restarted instance fences its predecessor's producer and
    /// aborts its open transaction at once; otherwise [`process_id`](Self::process_id), and
    /// a crashed instance's open transaction is aborted by the coordinator after
    /// `transaction.timeout.ms` (60 s). Zombies are fenced either way by the group
    /// generation sent with the offsets (KIP-447). `-X producer.transactional.id` wins
    /// (suffixed with `-<thread index>` when `num.stream.threads` > 1).
    pub fn transactional_id(&self) -> String {
        let process = self
            .client
            .properties_for(ClientRole::Consumer)
            .into_iter()
            .find(|(k, _)| k == "group.instance.id")
            .map_or_else(|| self.process_id.clone(), |(_, v)| v);
        format!("{}-{process}-{}", self.application_id, self.thread_index())
    }

    /// Kafka Streams' thread index, from 1.
    fn thread_index(&self) -> usize {
        self.stream_thread.map_or(1, |i| i + 1)
    }

    fn exactly_once(&self) -> bool {
        self.processing_guarantee == ProcessingGuarantee::ExactlyOnceV2
    }

    pub(super) fn consumer_config(&self) -> ClientConfig {
        let mut config = self.client.config(
            ClientRole::Consumer,
            &format!("{}-consumer", self.client_id_base()),
            &[
                ("group.id", &self.application_id),
                // TCP_NODELAY, as Kafka's Java clients set it. With Nagle on, a small
                // request written while the last one is unacknowledged waits for the
                // broker's delayed ACK (up to 40 ms), which an acks=all response holds
                // back: the wait of an interval commit for its acknowledgements had a p99
                // of 105-110 ms at 2,000 records/s, and 29-47 ms without Nagle.
                ("socket.nagle.disable", "true"),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", "earliest"),
                // Bound the prefetch queue and fetch responses (defaults: 64 MiB and
                // 50 MiB): they are most of the memory a streams instance needs.
                ("queued.max.messages.kbytes", "4096"),
                ("fetch.max.bytes", "4194304"),
                // With a small queue the default (1 s) stalls a partition each time the
                // queue fills: on a backlog that capped throughput near 10-15k records/s.
                ("fetch.queue.backoff.ms", "10"),
                ("statistics.interval.ms", "5000"),
                // Partitions added to an input topic are seen at a metadata refresh, which
                // makes the group rebalance to assign them: librdkafka refreshes every 5 min
                // by default, docs/RELIABILITY.md promises 10 s (#21).
                ("topic.metadata.refresh.interval.ms", "10000"),
            ],
        );
        if self.exactly_once() {
            // Records of aborted transactions (written to our input by a transactional
            // producer upstream) must never be processed. librdkafka's default is
            // read_committed already; set last, so no -X can change it under EOS.
            config.set("isolation.level", "read_committed");
        }
        config
    }

    pub(super) fn producer_config(&self) -> ClientConfig {
        let transactional_id = self.transactional_id();
        let mut defaults: Vec<(&str, &str)> = Vec::new();
        if self.exactly_once() {
            // librdkafka's default, not Kafka Streams' 10 s: the coordinator aborts a
            // transaction older than this by bumping the producer epoch, which librdkafka
            // takes as fencing (fatal), and a coordinator failover after a broker dies took
            // 10-15 s here (drill 8). The cost: a crashed instance's open transaction holds
            // back read_committed readers of its partitions up to this long, unless an
            // instance with the same transactional id starts first and aborts it.
            defaults.extend([
                ("transactional.id", transactional_id.as_str()),
                ("transaction.timeout.ms", "60000"),
            ]);
        }
        defaults.extend([
            ("socket.nagle.disable", "true"),
            ("acks", "all"),
            ("enable.idempotence", "true"),
            // Fewer, larger produce requests: the brokers pay per request. Adds at
            // most 20 ms to an alert's latency.
            ("linger.ms", "20"),
            ("batch.num.messages", "10000"),
            // lz4 costs us little CPU and saves the brokers more (fewer bytes to append,
            // replicate and serve): on a 1M backlog 117k against 88-96k records/s
            // uncompressed, broker CPU 11.0 against 13-16 s (docs/PERFORMANCE.md).
            // zstd was as fast but took the RSS to 56 MiB.
            ("compression.type", "lz4"),
            // Bounded producer memory: 4 MiB queued. Batches keep librdkafka's 1 MB
            // (`batch.size`): 256 KiB halved the throughput on a backlog and doubled
            // the CPU per record, and the queue bound caps the memory anyway.
            ("queue.buffering.max.kbytes", "4096"),
        ]);
        let mut config = self.client.config(
            ClientRole::Producer,
            &format!("{}-producer", self.client_id_base()),
            &defaults,
        );
        // One transactional id per loop: an operator's id is suffixed with the thread
        // index when there are several, or the loops would fence each other.
        if self.exactly_once() && self.num_stream_threads > 1 {
            if let Some(given) = self
                .client
                .properties_for(ClientRole::Producer)
                .into_iter()
                .find(|(k, _)| k == "transactional.id")
            {
                config.set(
                    "transactional.id",
                    format!("{}-{}", given.1, self.thread_index()),
                );
            }
        }
        config
    }
}

/// Kafka Streams settings that are not librdkafka properties, and where they go instead.
/// librdkafka would refuse them with an error that does not say so.
const STREAMS_KEYS: [(&str, &str); 6] = [
    ("commit.interval.ms", "use --commit-interval (e.g. 100ms)"),
    ("application.id", "use --application-id"),
    (
        "processing.guarantee",
        "use --processing-guarantee (at_least_once or exactly_once_v2)",
    ),
    (
        "num.stream.threads",
        "one loop per process: run more instances in the same group",
    ),
    (
        "default.deserialization.exception.handler",
        "bad records are always logged and counted; add --dlq-topic to keep them",
    ),
    ("errors.dead.letter.queue.topic.name", "use --dlq-topic"),
];

impl RuntimeConfig {
    /// Refuses a Kafka Streams setting given as a client property (`-X`, the TOML
    /// `[kafka]` table), naming the key and what to use instead.
    pub fn check_properties(&self) -> Result<(), String> {
        for (key, _) in &self.client.overrides {
            if let Some((_, instead)) = STREAMS_KEYS.iter().find(|(k, _)| k == key) {
                return Err(format!(
                    "{key} is a Kafka Streams setting, not a librdkafka property: {instead}"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kafka_streams_key_among_client_properties_names_its_flag() {
        let mut c = RuntimeConfig::new("b", "app");
        assert_eq!(c.check_properties(), Ok(()));
        c.client = c
            .client
            .layer([("linger.ms", "5"), ("commit.interval.ms", "1000")]);
        let e = c.check_properties().unwrap_err();
        assert!(
            e.contains("commit.interval.ms") && e.contains("--commit-interval"),
            "{e}"
        );
    }
}
