//! The `streams` app's TOML config file. Every key is optional; flags override the file.
//!
//! ```toml
//! bootstrap_servers = "127.0.0.1:9092"
//! application_id = "metric-streams-application"
//! threshold = 0.5
//! commit_interval = "100ms"       # humantime
//! dlq_topic = "metric.dlq"
//! max_record_bytes = 1000000
//! command_config = "/etc/kafka/client.properties"   # Java client properties (security)
//!
//! [topics]
//! input = "metric.all"
//! cpu = "metric.cpu"
//! memory = "metric.memory"
//! alert = "metric.cpu.alert"
//!
//! [kafka]                         # librdkafka properties; `consumer.`/`producer.` for one side
//! "linger.ms" = "5"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
            input: "metric.all".into(),
            cpu: "metric.cpu".into(),
            memory: "metric.memory".into(),
            alert: "metric.cpu.alert".into(),
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
    pub dlq_topic: Option<String>,
    pub max_record_bytes: Option<usize>,
    /// A Java client properties file (`--command-config`), under `[kafka]` and `-X`.
    pub command_config: Option<PathBuf>,
    #[serde(default)]
    pub topics: Topics,
    #[serde(default)]
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
    #[error("the config file {path} is not valid: {detail}. See `metricpipe streams --help` for the keys")]
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

    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
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
        assert_eq!(c.topics.cpu, "c");
        assert_eq!(c.topics.input, "metric.all");
        assert_eq!(c.kafka.get("linger.ms").map(String::as_str), Some("10"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(AppConfig::from_toml("treshold = 0.5").is_err());
    }
}
