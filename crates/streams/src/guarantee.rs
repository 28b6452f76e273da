//! What the runtime promises and does with rejected records, as Kafka Streams names them:
//! `processing.guarantee`, the exception handlers and the commit interval's defaults.
//!
//! Outside `runtime/` because they need no Kafka client: the topology's config file reads a
//! processing guarantee with the `runtime` feature off (the fuzz build leaves librdkafka out).

use std::time::Duration;

/// Kafka Streams' at-least-once default is 30 s; a crash then replays up to 30 s of input.
/// Commits here never wait for the producer, so 100 ms costs almost nothing and keeps the
/// replay after a crash at about a tenth of a second of input.
pub const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_millis(100);

/// Kafka Streams' commit interval under `exactly_once_v2` (`commit.interval.ms` = 100):
/// each commit ends a transaction, so this is also the latency a `read_committed`
/// consumer sees on top of processing.
pub const EOS_DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_millis(100);

/// What a record the topology rejects does: Kafka Streams' built-in exception handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExceptionHandler {
    /// Count it, log it (rate-limited), dead-letter it when a dead-letter topic is set,
    /// and go on (`LogAndContinueExceptionHandler`).
    #[default]
    LogAndContinue,
    /// Log it and stop the run with `StreamsError::BadRecord` naming
    /// its topic, partition and offset; it is neither routed, dead-lettered nor committed,
    /// so a restart meets it again (`LogAndFailExceptionHandler`).
    LogAndFail,
}

/// Kafka Streams' `processing.guarantee`, by its values' names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessingGuarantee {
    /// Outputs are acknowledged before their input offsets are committed: a crash replays
    /// what came after the last commit, so duplicates are possible, loss is not.
    #[default]
    AtLeastOnce,
    /// Kafka Streams' EOS v2 (KIP-447): outputs, dead letters and input offsets are
    /// written in one transaction per commit interval by one transactional producer per
    /// processing loop. Downstream consumers need `isolation.level=read_committed`.
    ExactlyOnceV2,
}

/// A `processing.guarantee` value that is not one of [`ProcessingGuarantee::ACCEPTED`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {}", self.detail())]
pub struct UnknownGuarantee {
    /// Where the value came from: a flag, a TOML key or a properties key.
    pub key: String,
    pub value: String,
    hint: &'static str,
}

impl UnknownGuarantee {
    /// The message without the key, for callers that name the key themselves.
    pub fn detail(&self) -> String {
        format!(
            "unknown processing guarantee {:?}; accepted values: {}{}",
            self.value,
            ProcessingGuarantee::ACCEPTED.join(", "),
            self.hint
        )
    }
}

impl ProcessingGuarantee {
    /// The values accepted, as Kafka Streams spells them.
    pub const ACCEPTED: [&'static str; 2] = ["at_least_once", "exactly_once_v2"];

    pub fn as_str(self) -> &'static str {
        match self {
            ProcessingGuarantee::AtLeastOnce => "at_least_once",
            ProcessingGuarantee::ExactlyOnceV2 => "exactly_once_v2",
        }
    }

    /// Parses Kafka Streams' spelling; the error names `key` (the flag or config key the
    /// value came from) and the accepted values.
    pub fn parse(key: &str, value: &str) -> Result<Self, UnknownGuarantee> {
        match value.trim() {
            "at_least_once" => Ok(ProcessingGuarantee::AtLeastOnce),
            "exactly_once_v2" => Ok(ProcessingGuarantee::ExactlyOnceV2),
            other => Err(UnknownGuarantee {
                key: key.to_string(),
                value: other.to_string(),
                // Kafka Streams 4.0 removed both (KIP-732 deprecated them in 3.0).
                hint: if other == "exactly_once" || other == "exactly_once_beta" {
                    " (Kafka Streams 4.0 removed this value: use exactly_once_v2)"
                } else {
                    ""
                },
            }),
        }
    }

    /// The commit interval when none is configured: Kafka Streams' 100 ms under
    /// `exactly_once_v2`; ours (also 100 ms, see [`DEFAULT_COMMIT_INTERVAL`]) otherwise.
    pub fn default_commit_interval(self) -> Duration {
        match self {
            ProcessingGuarantee::AtLeastOnce => DEFAULT_COMMIT_INTERVAL,
            ProcessingGuarantee::ExactlyOnceV2 => EOS_DEFAULT_COMMIT_INTERVAL,
        }
    }
}

impl std::fmt::Display for ProcessingGuarantee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ProcessingGuarantee {
    type Err = UnknownGuarantee;

    /// Names the key `processing.guarantee`; use [`parse`](Self::parse) to name another.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse("processing.guarantee", s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processing_guarantees_parse_from_kafka_streams_names() {
        for v in ProcessingGuarantee::ACCEPTED {
            let g = ProcessingGuarantee::parse("--processing-guarantee", v).unwrap();
            assert_eq!(g.as_str(), v);
            assert_eq!(v.parse::<ProcessingGuarantee>().unwrap(), g);
        }
        assert_eq!(
            ProcessingGuarantee::default(),
            ProcessingGuarantee::AtLeastOnce
        );
        assert_eq!(
            ProcessingGuarantee::ExactlyOnceV2.default_commit_interval(),
            Duration::from_millis(100)
        );
        let e = ProcessingGuarantee::parse("processing_guarantee", "exactly-once")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("processing_guarantee:")
                && e.contains("\"exactly-once\"")
                && e.contains("at_least_once, exactly_once_v2"),
            "{e}"
        );
        let e = "exactly_once".parse::<ProcessingGuarantee>().unwrap_err();
        assert!(e.to_string().contains("use exactly_once_v2"), "{e}");
    }
}
