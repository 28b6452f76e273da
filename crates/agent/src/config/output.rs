//! `output.kafka` and `output.console` into an [`OutputConfig`].

use metricpipe_ship::{Partitioning, SinkConfig};

use crate::beatconf::tree::{join, Node};
use crate::beatconf::values::*;
use crate::error::ConfigError;
use crate::topic::TopicFormat;

#[derive(Debug, Clone)]
pub struct KafkaOutput {
    pub sink: SinkConfig,
    pub topic: TopicFormat,
}

#[derive(Debug, Clone)]
pub enum OutputConfig {
    Kafka(KafkaOutput),
    Console { pretty: bool },
}

pub(crate) fn decode_output(
    d: &mut Decoder,
    node: Option<&Node>,
    queue_events: Option<usize>,
) -> Result<OutputConfig, ConfigError> {
    let node = node.ok_or_else(|| {
        invalid(
            "output",
            "no output is configured: add output.kafka or output.console",
        )
    })?;
    let mut chosen: Vec<(String, OutputConfig)> = Vec::new();
    for (name, section) in d.map("output", node)?.to_vec() {
        let key = join("output", &name);
        let enabled = match section.get("enabled") {
            Some(v) => bool_value(&join(&key, "enabled"), v)?,
            None => true,
        };
        if !enabled {
            continue;
        }
        let out = match name.as_str() {
            "kafka" => OutputConfig::Kafka(decode_kafka(d, &key, &section, queue_events)?),
            "console" => {
                let mut pretty = false;
                for (k, v) in d.map(&key, &section)? {
                    let full = join(&key, k);
                    match k.as_str() {
                        "enabled" => {}
                        "pretty" => pretty = bool_value(&full, v)?,
                        "codec" => match v.get("json").and_then(|j| j.get("pretty")) {
                            Some(p) => pretty = bool_value(&join(&full, "json.pretty"), p)?,
                            None => d.unsupported_tree(&full, v, ""),
                        },
                        _ => d.unsupported_tree(&full, v, ""),
                    }
                }
                OutputConfig::Console { pretty }
            }
            other => {
                return Err(invalid(
                    &key,
                    format!("the {other} output is not supported: use output.kafka or output.console, or set `{key}.enabled: false`"),
                ))
            }
        };
        chosen.push((key, out));
    }
    match chosen.len() {
        1 => Ok(chosen.remove(0).1),
        0 => Err(invalid(
            "output",
            "no output is enabled: enable output.kafka or output.console",
        )),
        _ => Err(invalid(
            "output",
            format!(
                "exactly one output must be enabled, found {}",
                chosen
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        )),
    }
}

fn decode_kafka(
    d: &mut Decoder,
    key: &str,
    node: &Node,
    queue_events: Option<usize>,
) -> Result<KafkaOutput, ConfigError> {
    let mut sink = SinkConfig::default();
    if let Some(events) = queue_events {
        sink.queue_capacity = events;
    }
    let mut topic = None;
    let mut security = Vec::new();
    for (k, v) in d.map(key, node)? {
        let full = join(key, k);
        match k.as_str() {
            "enabled" => {}
            "hosts" => sink.hosts = hosts(&full, v)?,
            "topic" => {
                topic = Some(
                    TopicFormat::parse(&string_value(&full, v)?).map_err(|e| invalid(&full, e))?,
                )
            }
            "required_acks" => sink.required_acks = required_acks(&full, v)?,
            "compression" => sink.compression = compression(&full, v)?,
            "compression_level" => sink.compression_level = Some(compression_level(&full, v)?),
            "client_id" => sink.client_id = client_id(&full, v)?,
            "max_message_bytes" => sink.max_message_bytes = max_message_bytes(&full, v)?,
            "partition" => sink.partitioning = decode_partition(d, &full, v)?,
            "librdkafka" => sink.properties.extend(librdkafka_properties(&full, v)?),
            "key" => d.unsupported(
                &full,
                ": records carry no key, so they spread over partitions",
            ),
            k if crate::security::KEYS.contains(&k) => security.push((k.to_string(), v.clone())),
            "headers" | "topics" | "codec" => d.unsupported_tree(
                &full,
                v,
                "; set the equivalent librdkafka properties under output.kafka.librdkafka",
            ),
            _ => d.unsupported_tree(&full, v, ""),
        }
    }
    // Metricbeat's security keys go under the operator's own librdkafka properties.
    let secured = crate::security::decode(key, &security, &sink.properties)?;
    sink.properties.splice(0..0, secured);
    // Metricbeat's rule (libbeat outputs/kafka config.go): gzip levels are 0..9.
    if let (Some(level), "gzip") = (sink.compression_level, sink.compression.as_str()) {
        if !(0..=9).contains(&level) {
            return Err(invalid(
                &join(key, "compression_level"),
                format!("compression_level must be between 0 and 9 for gzip, got {level}"),
            ));
        }
    }
    if sink.hosts.is_empty() {
        return Err(invalid(
            &join(key, "hosts"),
            "list at least one broker, e.g. [\"my-kafka:9092\"]",
        ));
    }
    let topic =
        topic.ok_or_else(|| invalid(&join(key, "topic"), "set the topic, e.g. 'metric.all'"))?;
    Ok(KafkaOutput { sink, topic })
}

fn hosts(full: &str, v: &Node) -> Result<Vec<String>, ConfigError> {
    // A bare `-E output.kafka.hosts` is `true`: a broker list holds strings only.
    if let Some(bad) = list_items(v).iter().find(|n| !matches!(n, Node::Str(_))) {
        return Err(invalid(
            full,
            format!(
                "expected a list of host:port strings, e.g. [\"my-kafka:9092\"], got {}",
                bad.type_name()
            ),
        ));
    }
    let hosts = string_list(full, v)?;
    if let Some(bad) = hosts.iter().find(|h| h.contains("://")) {
        return Err(invalid(
            full,
            format!("{bad:?} has a scheme: write host:port, e.g. \"my-kafka:9092\""),
        ));
    }
    Ok(hosts)
}

fn required_acks(full: &str, v: &Node) -> Result<i32, ConfigError> {
    let acks = int_value(full, v)?;
    if !matches!(acks, -1..=1) {
        return Err(invalid(
            full,
            format!("must be 0, 1 or -1 (all), got {acks}"),
        ));
    }
    Ok(acks as i32)
}

fn compression(full: &str, v: &Node) -> Result<String, ConfigError> {
    let c = string_value(full, v)?.to_ascii_lowercase();
    match c.as_str() {
        "none" | "no" | "off" => Ok("none".into()),
        "gzip" | "snappy" | "lz4" | "zstd" => Ok(c),
        other => Err(invalid(
            full,
            format!("unknown compression {other:?}: use none, gzip, snappy, lz4 or zstd"),
        )),
    }
}

fn compression_level(full: &str, v: &Node) -> Result<i32, ConfigError> {
    let level = int_value(full, v)?;
    // librdkafka's compression.level range; gzip's narrower one is checked after decoding.
    if !(-1..=12).contains(&level) {
        return Err(invalid(
            full,
            format!("must be 0..9 for gzip (-1..12 for lz4 and zstd), got {level}"),
        ));
    }
    Ok(level as i32)
}

fn client_id(full: &str, v: &Node) -> Result<String, ConfigError> {
    let id = string_value(full, v)?;
    if id.is_empty() {
        return Err(invalid(
            full,
            "must not be empty (Metricbeat's default is 'beats')",
        ));
    }
    Ok(id)
}

fn max_message_bytes(full: &str, v: &Node) -> Result<usize, ConfigError> {
    let bytes = positive_int(full, v)?;
    // Metricbeat takes any positive size; librdkafka's message.max.bytes, which this
    // becomes, takes 1000..=1000000000.
    if !(1000..=1_000_000_000).contains(&bytes) {
        return Err(invalid(full, format!("{bytes} is outside 1000..1000000000, the range metricpipe's Kafka client (librdkafka message.max.bytes) accepts; Metricbeat's default is 1000000")));
    }
    Ok(bytes as usize)
}

/// `output.kafka.librdkafka`: the operator's own librdkafka properties, flattened to their
/// dotted names.
fn librdkafka_properties(full: &str, v: &Node) -> Result<Vec<(String, String)>, ConfigError> {
    let mut flat = Vec::new();
    v.flatten("", &mut flat);
    flat.into_iter()
        .map(|(prop, value)| {
            let value = value
                .as_text()
                .ok_or_else(|| invalid(&join(full, &prop), "expected a scalar value"))?;
            Ok((prop, value))
        })
        .collect()
}

fn decode_partition(d: &mut Decoder, key: &str, node: &Node) -> Result<Partitioning, ConfigError> {
    let entries = d.map(key, node)?.to_vec();
    let mut chosen = None;
    for (k, v) in entries {
        let full = join(key, &k);
        let group_events = |d: &mut Decoder| -> Result<u64, ConfigError> {
            let mut group = 1;
            for (gk, gv) in d.map(&full, &v)? {
                let gfull = join(&full, gk);
                match gk.as_str() {
                    "group_events" => group = positive_int(&gfull, gv)?,
                    _ => d.unsupported_tree(&gfull, gv, ""),
                }
            }
            Ok(group)
        };
        let p = match k.as_str() {
            "random" => Partitioning::Random {
                group_events: group_events(d)?,
            },
            "round_robin" => Partitioning::RoundRobin {
                group_events: group_events(d)?,
            },
            "hash" => {
                d.unsupported_tree(
                    &full,
                    &v,
                    ": records carry no key, so partitions are random",
                );
                Partitioning::Random { group_events: 1 }
            }
            other => {
                return Err(invalid(
                    &full,
                    format!("unknown partitioner {other:?}: use random or round_robin"),
                ))
            }
        };
        if chosen.replace(p).is_some() {
            return Err(invalid(
                key,
                "configure one partitioner: random or round_robin",
            ));
        }
    }
    Ok(chosen.unwrap_or(Partitioning::Random { group_events: 1 }))
}

fn list_items(node: &Node) -> Vec<&Node> {
    match node {
        Node::List(items) => items.iter().collect(),
        Node::Null => Vec::new(),
        other => vec![other],
    }
}

/// The Metricbeat key behind a librdkafka property named in a client-creation error
/// (`Invalid value "300" for configuration property "message.max.bytes"`), so that the
/// error names what the operator wrote.
pub fn blame_key(librdkafka_error: &str) -> Option<String> {
    let at = librdkafka_error.find("property")? + "property".len();
    let rest = &librdkafka_error[at..];
    let rest = &rest[rest.find('"')? + 1..];
    let prop = &rest[..rest.find('"')?];
    let key = match prop {
        "bootstrap.servers" | "metadata.broker.list" => "hosts".to_string(),
        "acks" | "request.required.acks" => "required_acks".into(),
        "compression.type" | "compression.codec" => "compression".into(),
        "compression.level" => "compression_level".into(),
        "client.id" => "client_id".into(),
        "message.max.bytes" => "max_message_bytes".into(),
        other => format!("librdkafka.{other}"),
    };
    Some(format!("output.kafka.{key}"))
}

#[cfg(test)]
mod tests {
    use super::blame_key;

    #[test]
    fn librdkafka_errors_blame_the_metricbeat_key() {
        let e = "Client creation error: Invalid value \"300\" for configuration property \"message.max.bytes\"";
        assert_eq!(
            blame_key(e).as_deref(),
            Some("output.kafka.max_message_bytes")
        );
        let e = "No such configuration property: \"linger.mss\"";
        assert_eq!(
            blame_key(e).as_deref(),
            Some("output.kafka.librdkafka.linger.mss")
        );
        assert_eq!(blame_key("Connection refused"), None);
        let e = "Invalid value \"x\" for configuration property \"linger.ms\"";
        assert_eq!(
            blame_key(e).as_deref(),
            Some("output.kafka.librdkafka.linger.ms")
        );
    }
}
