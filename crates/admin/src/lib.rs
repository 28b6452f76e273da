//! Topic administration for metricpipe.
//!
//! - [`create_topics`] makes the pipeline's topics, idempotently: a topic that exists with the
//!   asked partitions and replication factor is fine, a mismatch is reported, and a cluster
//!   with fewer brokers than the replication factor gets an error naming both numbers and the
//!   flag that lowers it.
//! - [`describe_topics`] reads partitions, leaders, replicas and in-sync replicas.
//! - [`validate_topic_name`] checks Kafka's rules for topic names.
//!
//! - [`limits`] reads each topic's `max.message.bytes` (DescribeConfigs) and sizes
//!   producer batches under it.
//!
//! All calls but [`limits`]' are async (rdkafka's admin client) and bounded by
//! [`AdminOptions::timeout`]. The clients come from [`metricpipe_kafka::ClientSettings`]
//! (role admin), the topic names and layout from [`metricpipe_kafka::topics`].

use std::time::Duration;

use metricpipe_kafka::{topics, ClientRole, ClientSettings};
use rdkafka::admin::{AdminClient, AdminOptions as RdAdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::metadata::Metadata;
use rdkafka::ClientConfig;
use serde::Serialize;

pub mod limits;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("replication factor {replication_factor} needs at least {replication_factor} brokers; the cluster at {bootstrap} has {brokers}; pass --replication-factor {brokers}")]
    NotEnoughBrokers {
        replication_factor: usize,
        brokers: usize,
        bootstrap: String,
    },
    #[error("no broker at {bootstrap} answered within {timeout:?}: {detail}. Check the bootstrap servers (--bootstrap-server, also spelled --bootstrap-servers) and that the cluster runs")]
    Unreachable {
        bootstrap: String,
        timeout: Duration,
        detail: String,
    },
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopicName { name: String, reason: String },
    #[error("--partitions must be at least 1, got {0}")]
    InvalidPartitions(i32),
    #[error("--replication-factor must be at least 1, got {0}")]
    InvalidReplicationFactor(i32),
    #[error("creating topic {topic} failed: {detail}")]
    Create { topic: String, detail: String },
    #[error("Kafka client error: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

pub type Result<T, E = AdminError> = std::result::Result<T, E>;

/// Where the cluster is and how long to wait for it.
#[derive(Debug, Clone)]
pub struct AdminOptions {
    pub bootstrap_servers: String,
    pub timeout: Duration,
    /// Extra librdkafka properties (security settings, for example).
    pub client_properties: Vec<(String, String)>,
}

impl AdminOptions {
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        AdminOptions {
            bootstrap_servers: bootstrap_servers.into(),
            timeout: Duration::from_secs(30),
            client_properties: Vec::new(),
        }
    }

    fn client_config(&self) -> ClientConfig {
        ClientSettings::new(&self.bootstrap_servers)
            .layer(self.client_properties.iter().cloned())
            // Connection failures are reported by our own error, with advice; librdkafka's
            // per-attempt log lines would only repeat it.
            .client_config(ClientRole::Admin, [("log_level", "3")])
    }
}

/// What to create.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
}

impl TopicSpec {
    /// The pipeline's topics ([`topics::ALL`]) with the spec's layout: 3 partitions,
    /// replication factor 2 ([`topics::DEFAULT_PARTITIONS`],
    /// [`topics::DEFAULT_REPLICATION_FACTOR`]).
    pub fn pipeline_defaults() -> Vec<TopicSpec> {
        topics::ALL
            .iter()
            .map(|name| TopicSpec {
                name: (*name).to_string(),
                partitions: topics::DEFAULT_PARTITIONS,
                replication_factor: topics::DEFAULT_REPLICATION_FACTOR,
            })
            .collect()
    }
}

/// What happened to one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TopicOutcome {
    Created,
    /// It existed already with the asked settings.
    Exists,
    /// It existed already with other settings; nothing was changed.
    Mismatch {
        partitions: i32,
        replication_factor: i32,
    },
}

/// One partition of a described topic.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionInfo {
    pub partition: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// A described topic. `error` is set when the cluster reported one (an unknown topic, say).
#[derive(Debug, Clone, Serialize)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionInfo>,
    pub replication_factor: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Kafka's topic name rules: 1..=249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<()> {
    let invalid = |reason: &str| {
        Err(AdminError::InvalidTopicName {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name == "." || name == ".." {
        return invalid("'.' and '..' are not allowed");
    }
    if name.len() > 249 {
        return invalid("it is longer than 249 characters");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return invalid(&format!(
            "{c:?} is not allowed; use letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

fn fetch_metadata(opts: &AdminOptions, topic: Option<&str>) -> Result<Metadata> {
    let consumer: BaseConsumer = opts.client_config().create()?;
    consumer
        .fetch_metadata(topic, opts.timeout)
        .map_err(|e| AdminError::Unreachable {
            bootstrap: opts.bootstrap_servers.clone(),
            timeout: opts.timeout,
            detail: e.to_string(),
        })
}

/// The controller answers CreateTopics before every broker's metadata has the topics: a
/// describe (or a producer) right after a create could still hear "unknown topic" (seen in
/// CI on a loaded machine). Each broker answers from its own cache, which follows the
/// controller at its own pace, so each one is asked on its own (a client whose only
/// bootstrap server is that broker sends its first request there), until it shows every
/// topic with a leader for each partition. Past the timeout the create still succeeded;
/// the topics become usable a little later.
fn wait_until_usable(opts: &AdminOptions, topics: &[String]) {
    let deadline = std::time::Instant::now() + opts.timeout;
    let usable = |md: &Metadata| {
        topics.iter().all(|name| {
            md.topics().iter().any(|t| {
                t.name() == name
                    && t.error().is_none()
                    && !t.partitions().is_empty()
                    && t.partitions().iter().all(|p| p.leader() >= 0)
            })
        })
    };
    let Ok(md) = fetch_metadata(opts, None) else {
        return;
    };
    let brokers: Vec<String> = md
        .brokers()
        .iter()
        .map(|b| format!("{}:{}", b.host(), b.port()))
        .collect();
    for broker in brokers {
        let mut one = opts.clone();
        one.bootstrap_servers = broker;
        one.timeout = opts.timeout.min(Duration::from_secs(5));
        loop {
            match fetch_metadata(&one, None) {
                Ok(md) if usable(&md) => break,
                // A broker this machine cannot reach (an advertised listener for another
                // network) is not waited for: the others are.
                Err(_) => break,
                Ok(_) if std::time::Instant::now() >= deadline => return,
                Ok(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

/// An existing topic's outcome: [`TopicOutcome::Exists`] when the `(partitions,
/// replication factor)` a broker shows are `spec`'s, [`TopicOutcome::Mismatch`] otherwise.
fn compare((partitions, replication_factor): (i32, i32), spec: &TopicSpec) -> TopicOutcome {
    if partitions == spec.partitions && replication_factor == spec.replication_factor {
        TopicOutcome::Exists
    } else {
        TopicOutcome::Mismatch {
            partitions,
            replication_factor,
        }
    }
}

/// The outcome for a topic the controller says exists, by [`compare`] once a broker's
/// metadata shows it. Metadata can lag the controller, so it is read again, bounded by the
/// timeout; a topic never shown is reported as [`TopicOutcome::Exists`].
fn outcome_of_existing(opts: &AdminOptions, spec: &TopicSpec) -> TopicOutcome {
    let deadline = std::time::Instant::now() + opts.timeout;
    loop {
        let shown = fetch_metadata(opts, Some(&spec.name))
            .ok()
            .and_then(|md| existing(&md, &spec.name));
        match shown {
            Some(shown) => return compare(shown, spec),
            None if std::time::Instant::now() >= deadline => return TopicOutcome::Exists,
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// How many brokers the cluster reports.
pub async fn broker_count(opts: &AdminOptions) -> Result<usize> {
    let opts = opts.clone();
    let md = run_blocking(move || fetch_metadata(&opts, None)).await?;
    Ok(md.brokers().len())
}

/// librdkafka's metadata call blocks; keep it off the async workers.
async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(AdminError::Create {
            topic: String::new(),
            detail: format!("metadata task failed: {e}"),
        }),
    }
}

fn existing(md: &Metadata, name: &str) -> Option<(i32, i32)> {
    md.topics()
        .iter()
        .find(|t| t.name() == name && t.error().is_none())
        .map(|t| {
            let rf = t
                .partitions()
                .iter()
                .map(|p| p.replicas().len())
                .max()
                .unwrap_or(0);
            (t.partitions().len() as i32, rf as i32)
        })
}

/// Create `topics`, idempotently. Returns each topic's outcome in order; existing topics
/// with other settings are reported as [`TopicOutcome::Mismatch`], never changed.
pub async fn create_topics(
    opts: &AdminOptions,
    topics: &[TopicSpec],
) -> Result<Vec<(String, TopicOutcome)>> {
    for t in topics {
        validate_topic_name(&t.name)?;
        if t.partitions < 1 {
            return Err(AdminError::InvalidPartitions(t.partitions));
        }
        if t.replication_factor < 1 {
            return Err(AdminError::InvalidReplicationFactor(t.replication_factor));
        }
    }
    let md = {
        let opts = opts.clone();
        run_blocking(move || fetch_metadata(&opts, None)).await?
    };
    let brokers = md.brokers().len();

    let mut outcomes: Vec<(String, Option<TopicOutcome>)> = Vec::new();
    let mut to_create = Vec::new();
    for t in topics {
        match existing(&md, &t.name) {
            Some(shown) => outcomes.push((t.name.clone(), Some(compare(shown, t)))),
            None => {
                if t.replication_factor as usize > brokers {
                    return Err(AdminError::NotEnoughBrokers {
                        replication_factor: t.replication_factor as usize,
                        brokers,
                        bootstrap: opts.bootstrap_servers.clone(),
                    });
                }
                outcomes.push((t.name.clone(), None));
                to_create.push(t);
            }
        }
    }

    if !to_create.is_empty() {
        let admin: AdminClient<DefaultClientContext> = opts.client_config().create()?;
        let new_topics: Vec<NewTopic> = to_create
            .iter()
            .map(|t| {
                NewTopic::new(
                    &t.name,
                    t.partitions,
                    TopicReplication::Fixed(t.replication_factor),
                )
            })
            .collect();
        let results = admin
            .create_topics(
                new_topics.iter(),
                &RdAdminOptions::new().operation_timeout(Some(opts.timeout)),
            )
            .await?;
        for result in results {
            let (name, outcome) = match result {
                Ok(name) => (name, TopicOutcome::Created),
                // Our metadata came from a broker that did not know the topic yet, or another
                // process created it meanwhile: compare its settings once a broker shows it.
                Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    let outcome = match to_create.iter().find(|t| t.name == name) {
                        Some(&spec) => {
                            let (opts, spec) = (opts.clone(), spec.clone());
                            run_blocking(move || Ok(outcome_of_existing(&opts, &spec))).await?
                        }
                        None => TopicOutcome::Exists,
                    };
                    (name, outcome)
                }
                Err((name, RDKafkaErrorCode::InvalidReplicationFactor)) => {
                    return Err(AdminError::NotEnoughBrokers {
                        replication_factor: to_create
                            .iter()
                            .find(|t| t.name == name)
                            .map(|t| t.replication_factor as usize)
                            .unwrap_or(0),
                        brokers,
                        bootstrap: opts.bootstrap_servers.clone(),
                    })
                }
                Err((name, code)) => {
                    return Err(AdminError::Create {
                        topic: name,
                        detail: code.to_string(),
                    })
                }
            };
            if let Some(slot) = outcomes.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = Some(outcome);
            }
        }
        let created: Vec<String> = outcomes
            .iter()
            .filter(|(_, o)| *o == Some(TopicOutcome::Created))
            .map(|(n, _)| n.clone())
            .collect();
        let opts = opts.clone();
        run_blocking(move || {
            wait_until_usable(&opts, &created);
            Ok(())
        })
        .await?;
    }
    Ok(outcomes
        .into_iter()
        .map(|(n, o)| (n, o.unwrap_or(TopicOutcome::Created)))
        .collect())
}

/// Describe `topics` (all non-internal topics when empty), sorted by name.
pub async fn describe_topics(opts: &AdminOptions, topics: &[String]) -> Result<Vec<TopicInfo>> {
    let md = {
        let opts = opts.clone();
        run_blocking(move || fetch_metadata(&opts, None)).await?
    };
    let mut out: Vec<TopicInfo> = md
        .topics()
        .iter()
        .filter(|t| {
            if topics.is_empty() {
                !t.name().starts_with("__")
            } else {
                topics.iter().any(|n| n == t.name())
            }
        })
        .map(|t| {
            let mut partitions: Vec<PartitionInfo> = t
                .partitions()
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.id(),
                    leader: p.leader(),
                    replicas: p.replicas().to_vec(),
                    isr: p.isr().to_vec(),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            TopicInfo {
                name: t.name().to_string(),
                replication_factor: partitions
                    .iter()
                    .map(|p| p.replicas.len())
                    .max()
                    .unwrap_or(0),
                partitions,
                error: t.error().map(|e| format!("{e:?}")),
            }
        })
        .collect();
    for wanted in topics {
        if !out.iter().any(|t| &t.name == wanted) {
            out.push(TopicInfo {
                name: wanted.clone(),
                partitions: Vec::new(),
                replication_factor: 0,
                error: Some("unknown topic: create it with `metricpipe topics create`".into()),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        for ok in ["metric.all", "a", "A_b-c.9", &"x".repeat(249)] {
            assert!(validate_topic_name(ok).is_ok(), "{ok} should be valid");
        }
        for bad in [
            "",
            ".",
            "..",
            "has space",
            "slash/no",
            "ümlaut",
            &"x".repeat(250),
        ] {
            let err = validate_topic_name(bad).unwrap_err().to_string();
            assert!(err.contains("invalid topic name"), "{bad}: {err}");
        }
    }

    #[test]
    fn not_enough_brokers_names_both_numbers_and_the_flag() {
        let e = AdminError::NotEnoughBrokers {
            replication_factor: 2,
            brokers: 1,
            bootstrap: "127.0.0.1:9092".into(),
        }
        .to_string();
        assert!(e.contains("replication factor 2"), "{e}");
        assert!(e.contains("has 1"), "{e}");
        assert!(e.contains("--replication-factor 1"), "{e}");
    }

    #[test]
    fn pipeline_defaults_are_the_spec_layout() {
        let specs = TopicSpec::pipeline_defaults();
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, topics::ALL);
        assert!(specs
            .iter()
            .all(|s| s.partitions == 3 && s.replication_factor == 2));
    }
}
