//! The `streams` app's TOML config file. Every key is optional; flags override the file.
//!
//! ```toml
//! bootstrap_servers = "127.0.0.1:9092"
//! application_id = "metric-streams-application"
//! threshold = 0.5
//! commit_interval = "100ms"       # humantime
//! processing_guarantee = "at_least_once"   # or "exactly_once_v2" (Kafka Streams' names)
//! dlq_topic = "metric.dlq"
//! max_record_bytes = 1000000
//! command_config = "/etc/kafka/client.properties"   # Java client properties (security)
//!
//! [topics]                        # keys input, cpu, memory, alert; each defaults to its
//!                                 # name in metricpipe_kafka::topics: metric.all,
//!                                 # metric.cpu, metric.memory, metric.cpu.alert
//!
//! [kafka]                         # librdkafka properties; `consumer.`/`producer.` for one side
//! "linger.ms" = 5                 # numbers and booleans are written as librdkafka strings
//! "enable.idempotence" = true
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use metricpipe_kafka::topics;
use metricpipe_streams::ProcessingGuarantee;
use serde::Deserialize;

/// The topics of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Topics {
    pub input: String,
    pub cpu: String,
    pub memory: String,
    pub alert: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            input: topics::INPUT.into(),
            cpu: topics::CPU.into(),
            memory: topics::MEMORY.into(),
            alert: topics::ALERT.into(),
        }
    }
}

/// The config file, as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    pub bootstrap_servers: Option<String>,
    pub application_id: Option<String>,
    pub threshold: Option<f64>,
    #[serde(default, with = "humantime_opt")]
    pub commit_interval: Option<Duration>,
    /// Kafka Streams' `processing.guarantee`: `at_least_once` or `exactly_once_v2`.
    #[serde(default, deserialize_with = "guarantee::deserialize")]
    pub processing_guarantee: Option<ProcessingGuarantee>,
    pub dlq_topic: Option<String>,
    pub max_record_bytes: Option<usize>,
    /// A Java client properties file (`--command-config`), under `[kafka]` and `-X`.
    pub command_config: Option<PathBuf>,
    #[serde(default)]
    pub topics: Topics,
    /// librdkafka properties as librdkafka takes them: every value a string.
    #[serde(default, deserialize_with = "properties::deserialize")]
    pub kafka: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading the config file {path} failed: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {detail} (`metricpipe streams --help` lists the keys)")]
    Parse { path: PathBuf, detail: String },
}

impl AppConfig {
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|detail| ConfigError::Parse {
            path: path.to_path_buf(),
            detail,
        })
    }

    /// Parse the file's text. The error is one line: the key (when the error has a place in
    /// the text), its line, and what is wrong, e.g.
    /// ``key `threshold` (line 3): invalid type: string "x", expected f64``.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| describe(text, &e))
    }
}

/// One line for a TOML error, in place of toml's multi-line snippet.
fn describe(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    let Some(span) = e.span() else {
        return message;
    };
    let start = span.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("");
    match line.split_once('=') {
        Some((key, _)) if !line.trim_start().starts_with('[') => {
            let key = key.trim().trim_matches('"');
            format!("key `{key}` (line {line_no}): {message}")
        }
        _ => format!("line {line_no}: {message}"),
    }
}

/// librdkafka property values: strings as they are; integers, floats and booleans written
/// as librdkafka expects them (`5`, `0.5`, `true`).
mod properties {
    use std::collections::BTreeMap;
    use std::fmt;

    use serde::de::{Deserializer, Error, Visitor};
    use serde::Deserialize;

    struct Value(String);

    impl<'de> Deserialize<'de> for Value {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ValueVisitor)
        }
    }

    struct ValueVisitor;

    impl Visitor<'_> for ValueVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string, number or boolean (a librdkafka property value)")
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<Value, E> {
            Ok(Value(v.to_string()))
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<Value, E> {
            Ok(Value(v.to_string()))
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<Value, E> {
            Ok(Value(v.to_string()))
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<Value, E> {
            Ok(Value(v.to_string()))
        }
        fn visit_bool<E: Error>(self, v: bool) -> Result<Value, E> {
            Ok(Value(v.to_string()))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, String>, D::Error> {
        let map: BTreeMap<String, Value> = BTreeMap::deserialize(d)?;
        Ok(map.into_iter().map(|(k, Value(v))| (k, v)).collect())
    }
}

mod guarantee {
    use metricpipe_streams::ProcessingGuarantee;
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<ProcessingGuarantee>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            ProcessingGuarantee::parse("processing_guarantee", &t)
                .map_err(|e| serde::de::Error::custom(e.detail()))
        })
        .transpose()
    }
}

mod humantime_opt {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let c = AppConfig::from_toml(
            r#"
            bootstrap_servers = "h:9092"
            threshold = 0.7
            commit_interval = "250ms"
            processing_guarantee = "exactly_once_v2"
            dlq_topic = "dlq"
            [topics]
            cpu = "c"
            [kafka]
            "linger.ms" = "10"
            "#,
        )
        .unwrap();
        assert_eq!(c.threshold, Some(0.7));
        assert_eq!(c.commit_interval, Some(Duration::from_millis(250)));
        assert_eq!(
            c.processing_guarantee,
            Some(ProcessingGuarantee::ExactlyOnceV2)
        );
        let e = AppConfig::from_toml("processing_guarantee = \"exactly_once\"\n").unwrap_err();
        assert!(
            e.contains("key `processing_guarantee` (line 1)") && e.contains("exactly_once_v2"),
            "{e}"
        );
        assert_eq!(c.topics.cpu, "c");
        assert_eq!(c.topics.input, "metric.all");
        assert_eq!(c.kafka.get("linger.ms").map(String::as_str), Some("10"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(AppConfig::from_toml("treshold = 0.5").is_err());
    }

    #[test]
    fn kafka_properties_take_numbers_and_booleans_as_librdkafka_strings() {
        let c = AppConfig::from_toml(
            r#"
            [kafka]
            "linger.ms" = 5
            "enable.idempotence" = true
            "producer.batch.size" = 1000000
            "consumer.fetch.wait.max.ms" = "50"
            "socket.timeout.ms" = 60000.0
            "#,
        )
        .unwrap();
        let get = |k: &str| c.kafka.get(k).map(String::as_str);
        assert_eq!(get("linger.ms"), Some("5"));
        assert_eq!(get("enable.idempotence"), Some("true"));
        assert_eq!(get("producer.batch.size"), Some("1000000"));
        assert_eq!(get("consumer.fetch.wait.max.ms"), Some("50"));
        assert_eq!(get("socket.timeout.ms"), Some("60000"));
    }

    #[test]
    fn errors_are_one_line_naming_the_key() {
        let e = AppConfig::from_toml("bootstrap_servers = \"h:9092\"\nthreshold = \"high\"\n")
            .unwrap_err();
        assert!(!e.contains('\n'), "{e}");
        assert!(e.starts_with("key `threshold` (line 2): "), "{e}");

        let e = AppConfig::from_toml("[kafka]\n\"linger.ms\" = [5]\n").unwrap_err();
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains("linger.ms") && e.contains("librdkafka"), "{e}");

        let e = AppConfig::from_toml("treshold = 0.5").unwrap_err();
        assert!(e.contains("treshold") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn the_file_error_has_no_stray_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("streams.toml");
        std::fs::write(&path, "threshold = \"high\"\n").unwrap();
        let e = AppConfig::from_file(&path).unwrap_err().to_string();
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(
            e.contains("threshold") && e.contains("metricpipe streams --help"),
            "{e}"
        );
    }
}
