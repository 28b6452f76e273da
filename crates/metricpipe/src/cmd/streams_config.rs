//! `metricpipe streams`' settings from its config files: the TOML file and Kafka Streams'
//! `streams.properties` (the Java app's file, unchanged), merged in one precedence.
//!
//! Precedence, lowest first; a later source beats an earlier one key by key:
//!
//! 1. our defaults;
//! 2. each `--config` file in the order given (TOML and properties alike, so
//!    `--config streams.toml --config streams.properties` lets the Java app's file refine
//!    the packaged one);
//! 3. `-X` flags with a Kafka Streams key (`-X commit.interval.ms=1000`);
//! 4. the named flags (`--commit-interval`, `--application-id`, ...). The same setting
//!    given both as a flag and with `-X` is an error.
//!
//! Client (librdkafka) properties stack the same way: `--command-config` (or the TOML's
//! `command_config`) < each file's client properties (TOML `[kafka]`, the properties
//! file's client keys) < `-X` client properties; `consumer.`/`producer.`/`admin.` keys
//! beat unprefixed ones for their client (metricpipe-kafka's `settings` module).
//!
//! The format is told by the extension (`.properties`, `.toml`), else by the first line
//! that is not blank or a comment: `[section]` or a key without a dot is TOML (our keys
//! have none), a dotted key (`application.id=...`) is a properties file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use metricpipe_streams::properties::{is_streams_key, StreamsProperties};
use metricpipe_streams::{ExceptionHandler, ProcessingGuarantee};
use metricpipe_topology::{AppConfig, Topics};

/// Every setting the files and `-X` Kafka Streams keys may give; `None`: not given.
#[derive(Debug, Default)]
pub struct FileSettings {
    pub bootstrap_servers: Option<String>,
    pub application_id: Option<String>,
    pub threshold: Option<f64>,
    pub commit_interval: Option<Duration>,
    pub dlq_topic: Option<String>,
    pub max_record_bytes: Option<usize>,
    pub command_config: Option<PathBuf>,
    pub topics: Topics,
    pub processing_guarantee: Option<ProcessingGuarantee>,
    pub num_stream_threads: Option<usize>,
    pub deserialization_exception_handler: Option<ExceptionHandler>,
    pub processing_exception_handler: Option<ExceptionHandler>,
    /// librdkafka properties, lowest precedence first.
    pub client: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Properties,
}

/// Tells a config file's format (see the module docs).
pub fn detect(path: &Path, text: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("properties") => return Format::Properties,
        Some("toml") => return Format::Toml,
        _ => {}
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'));
    let Some(line) = first else {
        return Format::Toml;
    };
    if line.starts_with('[') {
        return Format::Toml;
    }
    let key_end = line.find(['=', ':', ' ', '\t']).unwrap_or(line.len());
    let key = &line[..key_end];
    if key.contains('.') && !key.starts_with('"') {
        Format::Properties
    } else {
        Format::Toml
    }
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

impl FileSettings {
    /// Reads the `--config` files in order, logging the properties files' warnings.
    pub fn load(paths: &[PathBuf]) -> anyhow::Result<Self> {
        let mut s = FileSettings::default();
        for path in paths {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the config file {}", path.display()))?;
            match detect(path, &text) {
                Format::Toml => {
                    let by_extension = path.extension().is_some_and(|e| e == "toml");
                    let toml = AppConfig::from_file(path);
                    let toml = if by_extension {
                        toml?
                    } else {
                        toml.context("read as TOML: a Kafka Streams properties file needs the .properties extension or a dotted first key (application.id=...)")?
                    };
                    s.add_toml(toml);
                }
                Format::Properties => {
                    let p = StreamsProperties::load(path)?;
                    for w in &p.warnings {
                        tracing::warn!(file = %path.display(), "{w}");
                    }
                    s.add_properties(p);
                }
            }
        }
        Ok(s)
    }

    fn add_toml(&mut self, c: AppConfig) {
        set(&mut self.bootstrap_servers, c.bootstrap_servers);
        set(&mut self.application_id, c.application_id);
        set(&mut self.threshold, c.threshold);
        set(&mut self.commit_interval, c.commit_interval);
        set(&mut self.processing_guarantee, c.processing_guarantee);
        set(&mut self.dlq_topic, c.dlq_topic);
        set(&mut self.max_record_bytes, c.max_record_bytes);
        set(&mut self.command_config, c.command_config);
        self.topics = c.topics;
        self.client.extend(c.kafka);
    }

    /// Adds a properties source (a file, or the `-X` Kafka Streams keys).
    pub fn add_properties(&mut self, p: StreamsProperties) {
        set(&mut self.bootstrap_servers, p.bootstrap_servers);
        set(&mut self.application_id, p.application_id);
        set(&mut self.commit_interval, p.commit_interval);
        set(&mut self.dlq_topic, p.dlq_topic);
        set(&mut self.processing_guarantee, p.processing_guarantee);
        set(&mut self.num_stream_threads, p.num_stream_threads);
        set(
            &mut self.deserialization_exception_handler,
            p.deserialization_exception_handler,
        );
        set(
            &mut self.processing_exception_handler,
            p.processing_exception_handler,
        );
        self.client.extend(p.client);
    }
}

/// `-X` pairs split into Kafka Streams settings (read like a properties file) and client
/// properties. `flags` are the named flags given, as (Kafka Streams key, flag): the same
/// setting twice on the command line is an error naming both.
pub fn split_x(
    pairs: &[(String, String)],
    flags: &[(&str, &str)],
) -> anyhow::Result<(StreamsProperties, Vec<(String, String)>)> {
    let (streams, client): (Vec<_>, Vec<_>) =
        pairs.iter().cloned().partition(|(k, _)| is_streams_key(k));
    for (key, _) in &streams {
        if let Some((_, flag)) = flags.iter().find(|(k, _)| k == key) {
            bail!("-X {key} and {flag} set the same thing: keep one");
        }
    }
    let props = StreamsProperties::from_pairs(&streams).context("-X")?;
    for w in &props.warnings {
        tracing::warn!("-X: {w}");
    }
    Ok((props, client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_told_by_extension_then_content() {
        let p = Path::new;
        assert_eq!(detect(p("a.properties"), "x = 1"), Format::Properties);
        assert_eq!(detect(p("a.toml"), "a.b=1"), Format::Toml);
        assert_eq!(
            detect(p("streams.conf"), "# Kafka Streams\n\napplication.id=x\n"),
            Format::Properties
        );
        assert_eq!(
            detect(p("streams.conf"), "! comment\nbootstrap.servers: b:9092"),
            Format::Properties
        );
        assert_eq!(
            detect(p("streams.conf"), "# ours\nbootstrap_servers = \"b:9092\""),
            Format::Toml
        );
        assert_eq!(
            detect(p("streams.conf"), "[kafka]\n\"linger.ms\" = 5"),
            Format::Toml
        );
        assert_eq!(detect(p("streams.conf"), ""), Format::Toml);
    }

    #[test]
    fn a_later_file_beats_an_earlier_one_and_client_layers_stack() {
        let mut s = FileSettings::default();
        s.add_toml(
            AppConfig::from_toml(
                "application_id = \"a\"\ncommit_interval = \"1s\"\nthreshold = 0.7\n[kafka]\n\"linger.ms\" = 5\n",
            )
            .unwrap(),
        );
        s.add_properties(
            StreamsProperties::parse("application.id=b\nlinger.ms=7\nnum.stream.threads=2\n")
                .unwrap(),
        );
        assert_eq!(s.application_id.as_deref(), Some("b"));
        assert_eq!(s.commit_interval, Some(Duration::from_secs(1)));
        assert_eq!(s.threshold, Some(0.7));
        assert_eq!(s.num_stream_threads, Some(2));
        assert_eq!(
            s.client,
            vec![
                ("linger.ms".to_string(), "5".to_string()),
                ("linger.ms".to_string(), "7".to_string())
            ]
        );
    }

    #[test]
    fn x_splits_streams_keys_from_client_properties() {
        let x = |k: &str, v: &str| (k.to_string(), v.to_string());
        let (streams, client) = split_x(
            &[
                x("commit.interval.ms", "1000"),
                x("linger.ms", "5"),
                x("bootstrap.servers", "b:1"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(streams.commit_interval, Some(Duration::from_secs(1)));
        assert_eq!(
            client,
            vec![x("linger.ms", "5"), x("bootstrap.servers", "b:1")]
        );

        let e = split_x(
            &[x("commit.interval.ms", "1000")],
            &[("commit.interval.ms", "--commit-interval")],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--commit-interval") && e.contains("-X commit.interval.ms"),
            "{e}"
        );

        let e = format!(
            "{:#}",
            split_x(&[x("num.stream.threads", "x")], &[]).unwrap_err()
        );
        assert!(
            e.contains("-X") && e.contains("`num.stream.threads`"),
            "{e}"
        );
    }
}
