//! The metricbeat.yml subset the agent understands, decoded with the key of every value kept
//! for warnings and errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use metricpipe_collect::{CpuMetrics, Map, Value};
use metricpipe_ship::{Partitioning, SinkConfig};

use crate::topic::TopicFormat;
use crate::tree::Node;
use crate::ConfigError;

/// A metricset the agent can collect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metricset {
    Cpu,
    Memory,
}

impl Metricset {
    pub fn name(self) -> &'static str {
        match self {
            Metricset::Cpu => "cpu",
            Metricset::Memory => "memory",
        }
    }
}

/// One enabled `system` module entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleConfig {
    pub metricsets: Vec<Metricset>,
    pub period: Duration,
    /// The module's `hostfs`; `None` falls back to `-system.hostfs`, then `/`.
    pub hostfs: Option<PathBuf>,
    pub cpu_metrics: CpuMetrics,
}

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

/// The decoded configuration, plus one warning per setting that is not supported.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub modules: Vec<ModuleConfig>,
    pub output: OutputConfig,
    pub name: Option<String>,
    pub tags: Vec<String>,
    pub fields: Option<Map>,
    pub fields_under_root: bool,
    pub max_start_delay: Duration,
    pub path_data: PathBuf,
    pub warnings: Vec<String>,
}

/// Where the settings come from: the command line of `metricpipe agent`.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// `-c FILE` (repeatable; relative to `path_config`). Empty means `metricbeat.yml`.
    pub files: Vec<PathBuf>,
    /// `--path.config`; defaults to `path_home`.
    pub path_config: Option<PathBuf>,
    /// `--path.home`; defaults to the current directory.
    pub path_home: Option<PathBuf>,
    /// `--path.data`; defaults to `${path.home}/data`.
    pub path_data: Option<PathBuf>,
    /// `-E key=value` overrides, applied after the files.
    pub overrides: Vec<String>,
}

impl ConfigSources {
    /// The config files to read, resolved against `path.config` as Metricbeat does.
    pub fn resolved_files(&self) -> Vec<PathBuf> {
        let home = self.path_home.clone().unwrap_or_else(|| PathBuf::from("."));
        let config_dir = self.path_config.clone().unwrap_or(home);
        let files = if self.files.is_empty() {
            vec![PathBuf::from("metricbeat.yml")]
        } else {
            self.files.clone()
        };
        files
            .into_iter()
            .map(|f| {
                if f.is_absolute() {
                    f
                } else {
                    config_dir.join(f)
                }
            })
            .collect()
    }
}

/// Read the files, apply `-E`, and decode.
pub fn load(sources: &ConfigSources) -> Result<AgentConfig, ConfigError> {
    let mut tree = Node::empty_map();
    for path in sources.resolved_files() {
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        tree.merge(Node::from_yaml(&text, &path.display().to_string())?);
    }
    for item in &sources.overrides {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| ConfigError::Override(item.clone()))?;
        let value = Node::from_yaml(value, &format!("-E {item}"))?;
        tree.set_path(key.trim(), value, false);
    }
    tree.expand_env("")?;
    let mut config = decode(&tree)?;
    let home = sources
        .path_home
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    if let Some(data) = &sources.path_data {
        config.path_data = data.clone();
    } else if config.path_data.as_os_str().is_empty() {
        config.path_data = home.join("data");
    }
    Ok(config)
}

/// Parse one YAML document (tests and `load`).
pub fn from_yaml(text: &str) -> Result<AgentConfig, ConfigError> {
    decode(&Node::from_yaml(text, "config")?)
}

struct Decoder {
    warnings: Vec<String>,
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

pub(crate) fn invalid(key: &str, detail: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        detail: detail.into(),
    }
}

impl Decoder {
    fn unsupported(&mut self, key: &str, why: &str) {
        self.warnings.push(format!(
            "setting `{key}` is not supported by metricpipe and is ignored{why}"
        ));
    }

    /// Warn about every leaf under `node` (a whole unsupported section).
    fn unsupported_tree(&mut self, key: &str, node: &Node, why: &str) {
        match node {
            Node::Map(entries) if !entries.is_empty() => {
                for (k, v) in entries {
                    self.unsupported_tree(&join(key, k), v, why);
                }
            }
            _ => self.unsupported(key, why),
        }
    }

    fn map<'a>(&self, key: &str, node: &'a Node) -> Result<&'a [(String, Node)], ConfigError> {
        match node {
            Node::Map(entries) => Ok(entries),
            Node::Null => Ok(&[]),
            other => Err(invalid(
                key,
                format!("expected a map, got {}", other.type_name()),
            )),
        }
    }
}

fn bool_value(key: &str, node: &Node) -> Result<bool, ConfigError> {
    match node {
        Node::Bool(b) => Ok(*b),
        Node::Str(s) if matches!(s.as_str(), "true" | "on" | "yes") => Ok(true),
        Node::Str(s) if matches!(s.as_str(), "false" | "off" | "no") => Ok(false),
        other => Err(invalid(
            key,
            format!("expected true or false, got {}", other.type_name()),
        )),
    }
}

pub(crate) fn string_value(key: &str, node: &Node) -> Result<String, ConfigError> {
    node.as_text()
        .ok_or_else(|| invalid(key, format!("expected a string, got {}", node.type_name())))
}

pub(crate) fn string_list(key: &str, node: &Node) -> Result<Vec<String>, ConfigError> {
    match node {
        Node::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| string_value(&format!("{key}.{i}"), n))
            .collect(),
        // go-ucfg accepts a single value where a list is expected.
        Node::Null => Ok(Vec::new()),
        other => Ok(vec![string_value(key, other)?]),
    }
}

fn int_value(key: &str, node: &Node) -> Result<i64, ConfigError> {
    match node {
        Node::Int(i) => Ok(*i),
        Node::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| invalid(key, format!("expected an integer, got {s:?}"))),
        other => Err(invalid(
            key,
            format!("expected an integer, got {}", other.type_name()),
        )),
    }
}

fn positive_int(key: &str, node: &Node) -> Result<u64, ConfigError> {
    let v = int_value(key, node)?;
    u64::try_from(v)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| invalid(key, format!("must be a positive integer, got {v}")))
}

/// A Go duration string (`10s`, `1m30s`, `500ms`) or a bare number of seconds, as go-ucfg
/// decodes `period`.
pub fn duration_value(key: &str, node: &Node) -> Result<Duration, ConfigError> {
    let secs = match node {
        Node::Int(i) => *i as f64,
        Node::Float(f) => *f,
        Node::Str(s) => return parse_go_duration(s).map_err(|d| invalid(key, d)),
        other => {
            return Err(invalid(
                key,
                format!(
                    "expected a duration like \"10s\", got {}",
                    other.type_name()
                ),
            ))
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(invalid(key, format!("must not be negative, got {secs}")));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Go's `time.ParseDuration` for non-negative values.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let bad = || {
        format!("{text:?} is not a duration: use a number and a unit, e.g. \"10s\", \"500ms\", \"1m30s\" (units ns, us, ms, s, m, h)")
    };
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.starts_with('-') {
        return Err(format!("{text:?} is negative"));
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += number * nanos_per;
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

fn decode(root: &Node) -> Result<AgentConfig, ConfigError> {
    let mut d = Decoder {
        warnings: Vec::new(),
    };
    let mut modules_node = None;
    let mut output_node = None;
    let mut config = AgentConfig {
        modules: Vec::new(),
        output: OutputConfig::Console { pretty: false },
        name: None,
        tags: Vec::new(),
        fields: None,
        fields_under_root: false,
        max_start_delay: Duration::from_secs(10),
        path_data: PathBuf::new(),
        warnings: Vec::new(),
    };
    let mut queue_events = None;
    for (key, node) in d.map("", root)?.to_vec() {
        match key.as_str() {
            "metricbeat" => {
                for (k, v) in d.map("metricbeat", &node)? {
                    let full = join("metricbeat", k);
                    match k.as_str() {
                        "modules" => modules_node = Some(v.clone()),
                        "max_start_delay" => config.max_start_delay = duration_value(&full, v)?,
                        _ => d.unsupported_tree(&full, v, ""),
                    }
                }
            }
            "name" => config.name = Some(string_value("name", &node)?).filter(|n| !n.is_empty()),
            "tags" => config.tags = string_list("tags", &node)?,
            "fields" => config.fields = Some(fields_map("fields", &node)?),
            "fields_under_root" => {
                config.fields_under_root = bool_value("fields_under_root", &node)?
            }
            "output" => output_node = Some(node.clone()),
            "queue" => {
                for (k, v) in d.map("queue", &node)? {
                    let full = join("queue", k);
                    if k != "mem" {
                        d.unsupported_tree(&full, v, ": only the memory queue exists");
                        continue;
                    }
                    for (k, v) in d.map(&full, v)? {
                        let full = join("queue.mem", k);
                        match k.as_str() {
                            "events" => queue_events = Some(positive_int(&full, v)? as usize),
                            _ => d.unsupported_tree(
                                &full,
                                v,
                                ": events are sent as soon as they are collected",
                            ),
                        }
                    }
                }
            }
            "path" => {
                for (k, v) in d.map("path", &node)? {
                    let full = join("path", k);
                    match k.as_str() {
                        "data" => config.path_data = PathBuf::from(string_value(&full, v)?),
                        "home" | "config" => d.unsupported(
                            &full,
                            ": pass it on the command line (--path.home, --path.config)",
                        ),
                        _ => d.unsupported_tree(&full, v, ""),
                    }
                }
            }
            _ => d.unsupported_tree(&key, &node, ""),
        }
    }
    let modules_node = modules_node.ok_or_else(|| {
        invalid(
            "metricbeat.modules",
            "one or more modules must be configured",
        )
    })?;
    config.modules = decode_modules(&mut d, &modules_node)?;
    config.output = decode_output(&mut d, output_node.as_ref(), queue_events)?;
    config.warnings = d.warnings;
    Ok(config)
}

fn fields_map(key: &str, node: &Node) -> Result<Map, ConfigError> {
    match to_value(node) {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(invalid(
            key,
            format!("expected a map of custom fields, got {}", node.type_name()),
        )),
    }
}

fn to_value(node: &Node) -> Value {
    match node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Int(i) => Value::Int(*i),
        Node::Float(f) => Value::Float(*f),
        Node::Str(s) => Value::Str(s.clone()),
        Node::List(items) => Value::Array(items.iter().map(to_value).collect()),
        Node::Map(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                m.insert(k.clone(), to_value(v));
            }
            Value::Object(m)
        }
    }
}

fn decode_modules(d: &mut Decoder, node: &Node) -> Result<Vec<ModuleConfig>, ConfigError> {
    let Node::List(entries) = node else {
        return Err(invalid(
            "metricbeat.modules",
            format!("expected a list of modules, got {}", node.type_name()),
        ));
    };
    if entries.is_empty() {
        return Err(invalid(
            "metricbeat.modules",
            "one or more modules must be configured",
        ));
    }
    let mut modules = Vec::new();
    let mut any_enabled = false;
    for (i, entry) in entries.iter().enumerate() {
        let prefix = format!("metricbeat.modules.{i}");
        let mut name = None;
        let mut metricsets = None;
        let mut enabled = true;
        let mut period = Duration::from_secs(10);
        let mut hostfs = None;
        let mut cpu_metrics = None;
        let mut cpu_ticks = false;
        let mut rest = Vec::new();
        for (k, v) in d.map(&prefix, entry)? {
            let full = join(&prefix, k);
            match k.as_str() {
                "module" => name = Some(string_value(&full, v)?),
                "metricsets" => metricsets = Some((full.clone(), string_list(&full, v)?)),
                "enabled" => enabled = bool_value(&full, v)?,
                "period" => {
                    period = duration_value(&full, v)?;
                    if period.is_zero() {
                        return Err(invalid(&full, "must be positive, e.g. 10s"));
                    }
                }
                "hostfs" => hostfs = Some(PathBuf::from(string_value(&full, v)?)),
                "cpu" => {
                    for (ck, cv) in d.map(&full, v)? {
                        let cfull = join(&full, ck);
                        match ck.as_str() {
                            "metrics" => cpu_metrics = Some(decode_cpu_metrics(&cfull, cv)?),
                            _ => d.unsupported_tree(&cfull, cv, ""),
                        }
                    }
                }
                "cpu_ticks" => cpu_ticks = bool_value(&full, v)?,
                _ => rest.push((full, v.clone())),
            }
        }
        let name = name.ok_or_else(|| {
            invalid(
                &join(&prefix, "module"),
                "every module entry needs `module: system`",
            )
        })?;
        if !enabled {
            continue;
        }
        any_enabled = true;
        if name != "system" {
            d.warnings.push(format!(
                "module `{name}` ({prefix}) is not supported by metricpipe and is skipped; only `system` is"
            ));
            continue;
        }
        for (full, v) in rest {
            d.unsupported_tree(&full, &v, "");
        }
        let mut cpu_metrics = cpu_metrics.unwrap_or_default();
        cpu_metrics.ticks |= cpu_ticks;
        let names = match metricsets {
            Some((_, names)) => names,
            None => vec!["cpu".into(), "memory".into()],
        };
        let mut sets = Vec::new();
        for n in names {
            match n.as_str() {
                "cpu" => sets.push(Metricset::Cpu),
                "memory" => sets.push(Metricset::Memory),
                other => d.warnings.push(format!(
                    "metricset `system/{other}` ({prefix}.metricsets) is not supported by metricpipe and is skipped; cpu and memory are"
                )),
            }
        }
        sets.dedup();
        if sets.is_empty() {
            continue;
        }
        modules.push(ModuleConfig {
            metricsets: sets,
            period,
            hostfs,
            cpu_metrics,
        });
    }
    if !any_enabled {
        return Err(invalid(
            "metricbeat.modules",
            "all modules are disabled; set `enabled: true` on one",
        ));
    }
    if modules.is_empty() {
        return Err(invalid(
            "metricbeat.modules",
            "no enabled `system` module with the cpu or memory metricset: nothing to collect",
        ));
    }
    Ok(modules)
}

fn decode_cpu_metrics(key: &str, node: &Node) -> Result<CpuMetrics, ConfigError> {
    let names = string_list(key, node)?;
    if names.is_empty() {
        return Err(invalid(key, "cpu.metrics cannot be empty"));
    }
    let mut m = CpuMetrics {
        percentages: false,
        normalized_percentages: false,
        ticks: false,
    };
    for n in names {
        match n.to_ascii_lowercase().as_str() {
            "percentages" => m.percentages = true,
            "normalized_percentages" => m.normalized_percentages = true,
            "ticks" => m.ticks = true,
            other => {
                return Err(invalid(
                    key,
                    format!("invalid cpu.metrics value '{other}' (valid options are percentages, normalized_percentages, and ticks)"),
                ))
            }
        }
    }
    Ok(m)
}

fn decode_output(
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
            "hosts" => {
                sink.hosts = string_list(&full, v)?;
                if let Some(bad) = sink.hosts.iter().find(|h| h.contains("://")) {
                    return Err(invalid(
                        &full,
                        format!("{bad:?} has a scheme: write host:port, e.g. \"my-kafka:9092\""),
                    ));
                }
            }
            "topic" => {
                topic = Some(
                    TopicFormat::parse(&string_value(&full, v)?).map_err(|e| invalid(&full, e))?,
                )
            }
            "required_acks" => {
                let acks = int_value(&full, v)?;
                if !matches!(acks, -1..=1) {
                    return Err(invalid(
                        &full,
                        format!("must be 0, 1 or -1 (all), got {acks}"),
                    ));
                }
                sink.required_acks = acks as i32;
            }
            "compression" => {
                let c = string_value(&full, v)?.to_ascii_lowercase();
                sink.compression = match c.as_str() {
                    "none" | "no" | "off" => "none".into(),
                    "gzip" | "snappy" | "lz4" | "zstd" => c,
                    other => {
                        return Err(invalid(
                            &full,
                            format!(
                            "unknown compression {other:?}: use none, gzip, snappy, lz4 or zstd"
                        ),
                        ))
                    }
                };
            }
            "compression_level" => {
                let level = int_value(&full, v)?;
                if !(0..=9).contains(&level) {
                    return Err(invalid(&full, format!("must be 0..9, got {level}")));
                }
                sink.compression_level = Some(level as i32);
            }
            "client_id" => sink.client_id = string_value(&full, v)?,
            "max_message_bytes" => sink.max_message_bytes = positive_int(&full, v)? as usize,
            "partition" => sink.partitioning = decode_partition(d, &full, v)?,
            "librdkafka" => {
                let mut flat = Vec::new();
                v.flatten("", &mut flat);
                for (prop, value) in flat {
                    let value = value
                        .as_text()
                        .ok_or_else(|| invalid(&join(&full, &prop), "expected a scalar value"))?;
                    sink.properties.push((prop, value));
                }
            }
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

impl AgentConfig {
    /// The hostfs root of a module: its own setting, then `-system.hostfs`, then `/`.
    pub fn hostfs_for(module: &ModuleConfig, cli_hostfs: Option<&Path>) -> PathBuf {
        module
            .hostfs
            .clone()
            .or_else(|| cli_hostfs.map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("/"))
    }
}
