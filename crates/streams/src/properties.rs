//! Kafka Streams' configuration: a `streams.properties` file (Java properties syntax, read by
//! [`metricpipe_kafka::java_properties`]) with Kafka Streams' keys, so the Java app's file
//! runs unchanged.
//!
//! | Kafka Streams key | here |
//! |---|---|
//! | `application.id` | [`RuntimeConfig::application_id`](crate::RuntimeConfig) (also the group id) |
//! | `bootstrap.servers` | the brokers |
//! | `processing.guarantee` | `at_least_once` or `exactly_once_v2` |
//! | `commit.interval.ms` | the commit interval, a whole number of milliseconds above 0 |
//! | `num.stream.threads` | processing loops in the process, 1 or more |
//! | `default.deserialization.exception.handler` (and 4.x's `deserialization.exception.handler`) | what a record that is not UTF-8 JSON does: `LogAndContinueExceptionHandler` or `LogAndFailExceptionHandler` |
//! | `processing.exception.handler` (KIP-1033) | what any other rejected record does: `LogAndContinueProcessingExceptionHandler` or `LogAndFailProcessingExceptionHandler` |
//! | `errors.dead.letter.queue.topic.name` (KIP-1034) | the dead-letter topic |
//! | `consumer.` / `main.consumer.`, `producer.`, `admin.` prefixed keys | that client only (`main.consumer.` beats `consumer.`, which beats unprefixed) |
//! | unprefixed client keys | every client |
//!
//! Client keys go through [`metricpipe_kafka::command_config::translate`] (security keys
//! become librdkafka's), then each is checked against librdkafka's own property table: a
//! Java client key librdkafka does not have (`max.poll.records`, say) is dropped with a
//! warning, a value librdkafka refuses is an error naming the key. `restore.consumer.`,
//! `global.consumer.` and `topic.` keys, and the Kafka Streams keys metricpipe does not
//! implement (`state.dir`, `replication.factor`, ...), are warnings that name them; so are
//! the consumer keys Kafka Streams itself overrides (`group.id`, `enable.auto.commit`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use metricpipe_kafka::{check_property, command_config, java_properties, PropertyCheck};

use crate::guarantee::{ExceptionHandler, ProcessingGuarantee};

/// What a Kafka Streams properties source (a file, `-X` flags) sets. `None`: not set there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamsProperties {
    pub application_id: Option<String>,
    pub bootstrap_servers: Option<String>,
    pub processing_guarantee: Option<ProcessingGuarantee>,
    pub commit_interval: Option<Duration>,
    pub num_stream_threads: Option<usize>,
    pub deserialization_exception_handler: Option<ExceptionHandler>,
    pub processing_exception_handler: Option<ExceptionHandler>,
    pub dlq_topic: Option<String>,
    /// librdkafka properties, `consumer.`/`producer.`/`admin.`-prefixed for one client,
    /// lowest precedence first (a layer for [`metricpipe_kafka::ClientSettings`]).
    pub client: Vec<(String, String)>,
    /// One line per key that is ignored, naming it and why.
    pub warnings: Vec<String>,
}

/// A key whose value cannot be used: the key, and what is wrong and what to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {detail}")]
pub struct KeyError {
    pub key: String,
    pub detail: String,
}

fn key_error(key: &str, detail: impl Into<String>) -> KeyError {
    KeyError {
        key: key.to_string(),
        detail: detail.into(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PropertiesFileError {
    #[error("reading the Kafka Streams properties file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Syntax {
        path: PathBuf,
        #[source]
        source: java_properties::PropertiesError,
    },
    #[error("{path}: {source}")]
    Key {
        path: PathBuf,
        #[source]
        source: KeyError,
    },
}

/// The keys handled by [`StreamsProperties::apply_streams_key`].
const IMPLEMENTED: [&str; 11] = [
    "application.id",
    "bootstrap.servers",
    "processing.guarantee",
    "commit.interval.ms",
    "num.stream.threads",
    "default.deserialization.exception.handler",
    "deserialization.exception.handler",
    "processing.exception.handler",
    "errors.dead.letter.queue.topic.name",
    // Accepted silently when it names a String or ByteArray serde (see `serde_warning`).
    "default.value.serde",
    // Any: keys are never read, and outputs have none.
    "default.key.serde",
];

const NO_STATE: &str = "metricpipe's topology keeps no state stores";
const NO_INTERNAL_TOPICS: &str =
    "metricpipe's topology creates no internal (repartition or changelog) topics";
const GROUP_ASSIGNS: &str =
    "partitions are assigned by the consumer group, not by Kafka Streams' task assignor";
const NO_TIME: &str = "the topology uses no record timestamps, windows or punctuations";
const OWN_METRICS: &str = "metricpipe exports Prometheus metrics instead (--metrics-addr)";

/// Kafka Streams keys (StreamsConfig, Kafka 4.x) that metricpipe does not implement, and why
/// ignoring them is safe.
const NOT_IMPLEMENTED: &[(&str, &str)] = &[
    ("state.dir", NO_STATE),
    ("state.cleanup.delay.ms", NO_STATE),
    ("statestore.cache.max.bytes", NO_STATE),
    ("cache.max.bytes.buffering", NO_STATE),
    ("rocksdb.config.setter", NO_STATE),
    ("default.dsl.store", NO_STATE),
    ("dsl.store.suppliers.class", NO_STATE),
    ("num.standby.replicas", NO_STATE),
    ("windowstore.changelog.additional.retention.ms", NO_STATE),
    ("replication.factor", NO_INTERNAL_TOPICS),
    ("repartition.purge.interval.ms", NO_INTERNAL_TOPICS),
    ("topology.optimization", NO_INTERNAL_TOPICS),
    ("ensure.explicit.internal.resource.naming", NO_INTERNAL_TOPICS),
    ("acceptable.recovery.lag", GROUP_ASSIGNS),
    ("max.warmup.replicas", GROUP_ASSIGNS),
    ("probing.rebalance.interval.ms", GROUP_ASSIGNS),
    ("task.assignor.class", GROUP_ASSIGNS),
    ("rack.aware.assignment.strategy", GROUP_ASSIGNS),
    ("rack.aware.assignment.tags", GROUP_ASSIGNS),
    ("rack.aware.assignment.traffic_cost", GROUP_ASSIGNS),
    ("rack.aware.assignment.non_overlap_cost", GROUP_ASSIGNS),
    ("application.server", "metricpipe serves no interactive queries"),
    ("default.timestamp.extractor", NO_TIME),
    ("max.task.idle.ms", NO_TIME),
    ("window.size.ms", NO_TIME),
    ("windowed.inner.class.serde", NO_TIME),
    ("buffered.records.per.partition", "records are processed as they are polled"),
    ("poll.ms", "records are processed as they are polled"),
    ("task.timeout.ms", "client errors are retried until --shutdown-timeout at a stop"),
    (
        "default.production.exception.handler",
        "outputs the brokers refuse are retried, then dead-lettered or counted (docs/RELIABILITY.md)",
    ),
    (
        "production.exception.handler",
        "outputs the brokers refuse are retried, then dead-lettered or counted (docs/RELIABILITY.md)",
    ),
    ("upgrade.from", "there is no Kafka Streams state to upgrade"),
    ("default.client.supplier", "the clients are librdkafka's"),
    ("log.summary.interval.ms", "a summary is logged when processing stops"),
    ("built.in.metrics.version", OWN_METRICS),
    ("metrics.recording.level", OWN_METRICS),
    ("metric.reporters", OWN_METRICS),
    ("metrics.num.samples", OWN_METRICS),
    ("metrics.sample.window.ms", OWN_METRICS),
];

/// Consumer keys Kafka Streams itself overrides (so a Java app's file may carry them to no
/// effect): kept away from our clients, which need them as they are.
const OVERRIDDEN: &[(&str, &str)] = &[
    ("group.id", "the group id is application.id"),
    (
        "enable.auto.commit",
        "offsets are committed only after their outputs are acknowledged",
    ),
    ("transactional.id", "it is derived from application.id"),
];

/// Where a prefixed client key goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    All,
    Consumer,
    MainConsumer,
    Producer,
    Admin,
    Ignored(&'static str),
}

const PREFIXES: [(&str, Target); 7] = [
    ("main.consumer.", Target::MainConsumer),
    ("consumer.", Target::Consumer),
    ("producer.", Target::Producer),
    ("admin.", Target::Admin),
    (
        "restore.consumer.",
        Target::Ignored("there is no restore consumer: the topology keeps no state stores"),
    ),
    (
        "global.consumer.",
        Target::Ignored("there is no global consumer: the topology has no global tables"),
    ),
    (
        "topic.",
        Target::Ignored("the topology creates no internal topics to configure"),
    ),
];

/// True for a key that is Kafka Streams' rather than a client's: the ones metricpipe
/// implements and the ones it names as ignored. `-X` flags with such a key are read as
/// Kafka Streams settings, not handed to librdkafka. `bootstrap.servers` is a client key
/// too, and stays one.
pub fn is_streams_key(key: &str) -> bool {
    key != "bootstrap.servers"
        && (IMPLEMENTED.contains(&key) || NOT_IMPLEMENTED.iter().any(|(k, _)| *k == key))
}

impl StreamsProperties {
    /// Reads a `streams.properties` file.
    pub fn load(path: &Path) -> Result<Self, PropertiesFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| PropertiesFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            ParseError::Syntax(source) => PropertiesFileError::Syntax {
                path: path.to_path_buf(),
                source,
            },
            ParseError::Key(source) => PropertiesFileError::Key {
                path: path.to_path_buf(),
                source,
            },
        })
    }

    /// Parses properties text (see [`StreamsProperties::from_pairs`]).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let pairs = java_properties::parse(text).map_err(ParseError::Syntax)?;
        Self::from_pairs(&pairs).map_err(ParseError::Key)
    }

    /// Maps Kafka Streams keys and client keys, in the order given (a later pair wins).
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self, KeyError> {
        let mut out = StreamsProperties::default();
        let mut groups: [Vec<(String, String)>; 5] = Default::default();
        for (key, value) in pairs {
            if out.apply_streams_key(key, value)? {
                continue;
            }
            if let Some((_, why)) = NOT_IMPLEMENTED.iter().find(|(k, _)| k == key) {
                out.warn(
                    key,
                    &format!("a Kafka Streams setting metricpipe does not implement ({why})"),
                );
                continue;
            }
            let (target, own) = PREFIXES
                .iter()
                .find_map(|(p, t)| key.strip_prefix(p).map(|own| (*t, own)))
                .unwrap_or((Target::All, key.as_str()));
            if let Target::Ignored(why) = target {
                out.warn(key, why);
                continue;
            }
            if let Some((_, why)) = OVERRIDDEN.iter().find(|(k, _)| *k == own) {
                out.warn(key, &format!("Kafka Streams overrides it too: {why}"));
                continue;
            }
            let slot = match target {
                Target::Consumer => 1,
                Target::MainConsumer => 2,
                Target::Producer => 3,
                Target::Admin => 4,
                _ => 0,
            };
            groups[slot].push((own.to_string(), value.clone()));
        }
        // The prefix each group's keys get back after translation; main.consumer. keys
        // come after consumer. ones, so they win.
        for (group, prefix) in
            groups
                .iter()
                .zip(["", "consumer.", "consumer.", "producer.", "admin."])
        {
            out.add_client_group(group, prefix)?;
        }
        Ok(out)
    }

    fn warn(&mut self, key: &str, why: &str) {
        self.warnings.push(format!("`{key}` is ignored: {why}"));
    }

    /// Sets the Kafka Streams setting `key`; false when `key` is not one we implement.
    pub fn apply_streams_key(&mut self, key: &str, raw: &str) -> Result<bool, KeyError> {
        let value = raw.trim();
        match key {
            "application.id" => {
                self.application_id = Some(non_empty(key, value, "metric-streams-application")?)
            }
            "bootstrap.servers" => {
                self.bootstrap_servers = Some(non_empty(key, value, "broker1:9092,broker2:9092")?)
            }
            "processing.guarantee" => {
                let g = ProcessingGuarantee::parse(key, value).map_err(|e| {
                    key_error(key, format!("{}: write processing.guarantee=at_least_once or processing.guarantee=exactly_once_v2", e.detail()))
                })?;
                self.processing_guarantee = Some(g);
            }
            "commit.interval.ms" => {
                let ms = positive(key, value, "commit.interval.ms=100")?;
                self.commit_interval = Some(Duration::from_millis(ms));
            }
            "num.stream.threads" => {
                let n = positive(key, value, "num.stream.threads=2")?;
                self.num_stream_threads = Some(usize::try_from(n).unwrap_or(usize::MAX));
            }
            "default.deserialization.exception.handler" | "deserialization.exception.handler" => {
                self.deserialization_exception_handler = Some(handler(key, value, "")?);
            }
            "processing.exception.handler" => {
                self.processing_exception_handler = Some(handler(key, value, "Processing")?);
            }
            "errors.dead.letter.queue.topic.name" => {
                self.dlq_topic = Some(non_empty(key, value, "metric.dlq")?);
            }
            "default.key.serde" => {}
            "default.value.serde" => {
                if let Some(w) = serde_warning(value) {
                    self.warn(key, &w);
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Translates one group of client keys (prefix stripped) and keeps those librdkafka has.
    fn add_client_group(
        &mut self,
        group: &[(String, String)],
        prefix: &str,
    ) -> Result<(), KeyError> {
        if group.is_empty() {
            return Ok(());
        }
        let translated = command_config::translate(group)
            .map_err(|(key, detail)| key_error(&format!("{prefix}{key}"), detail))?;
        for w in translated.warnings {
            self.warnings.push(format!("{prefix}{w}"));
        }
        for (key, value) in translated.properties {
            match check_property(&key, &value) {
                PropertyCheck::Known => self.client.push((format!("{prefix}{key}"), value)),
                PropertyCheck::Unknown => self.warn(
                    &format!("{prefix}{key}"),
                    "a Java client setting librdkafka has no property for",
                ),
                PropertyCheck::Invalid(why) => {
                    return Err(key_error(
                        &format!("{prefix}{key}"),
                        format!("librdkafka refuses the value: {why}"),
                    ))
                }
            }
        }
        Ok(())
    }
}

/// A parse failure: the text's syntax, or a key's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error(transparent)]
    Syntax(java_properties::PropertiesError),
    #[error(transparent)]
    Key(KeyError),
}

fn non_empty(key: &str, value: &str, example: &str) -> Result<String, KeyError> {
    if value.is_empty() {
        return Err(key_error(key, format!("empty: write {key}={example}")));
    }
    Ok(value.to_string())
}

fn positive(key: &str, value: &str, example: &str) -> Result<u64, KeyError> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(key_error(
            key,
            format!("expected a whole number above 0, e.g. {example}; got {value:?}"),
        )),
    }
}

/// Kafka Streams' built-in handlers by class name (`kind`: "" for deserialization,
/// "Processing" for processing), fully qualified or not.
fn handler(key: &str, value: &str, kind: &str) -> Result<ExceptionHandler, KeyError> {
    let short = value.rsplit('.').next().unwrap_or(value);
    let in_package = value == short || value.starts_with("org.apache.kafka.streams.errors.");
    let cont = format!("LogAndContinue{kind}ExceptionHandler");
    let fail = format!("LogAndFail{kind}ExceptionHandler");
    match short {
        s if in_package && s == cont => Ok(ExceptionHandler::LogAndContinue),
        s if in_package && s == fail => Ok(ExceptionHandler::LogAndFail),
        _ => Err(key_error(
            key,
            format!("unknown handler {value:?}: metricpipe runs no Java classes; write {key}=org.apache.kafka.streams.errors.{cont} (count, log, dead-letter and go on) or {key}=org.apache.kafka.streams.errors.{fail} (stop, naming the record)"),
        )),
    }
}

/// Values are bytes in and bytes out, as with a String or ByteArray serde; any other serde
/// would have decoded them differently.
fn serde_warning(value: &str) -> Option<String> {
    let short = value.rsplit(['.', '$']).next().unwrap_or(value);
    if matches!(short, "StringSerde" | "ByteArraySerde" | "BytesSerde") {
        return None;
    }
    Some(format!(
        "values are routed as the bytes they arrive as (a String or ByteArray serde), not with {value}"
    ))
}

#[cfg(test)]
#[path = "properties_tests.rs"]
mod tests;
