//! The metricbeat.yml subset the agent understands, decoded with the key of every value kept
//! for warnings and errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use metricpipe_collect::{Map, Value};

use crate::beatconf::modules_d::{read_module_files, FileStamp, ModuleFile, ModulesGlob};
use crate::beatconf::tree::{join, to_value, Node};
use crate::beatconf::values::*;
use crate::error::ConfigError;
use crate::processors::Processors;

mod logging;
mod modules;
mod output;
mod sources;

pub use crate::beatconf::paths::ConfigPaths;
pub use crate::beatconf::values::{duration_value, parse_go_duration, GO_MAX_DURATION};
pub use logging::{LogFiles, LogLevel, LogOutput, LoggingConfig};
use modules::decode_modules;
pub(crate) use modules::modules_glob;
pub use modules::{Metricset, ModuleConfig};
use output::decode_output;
pub use output::{blame_key, KafkaOutput, OutputConfig};
pub use sources::{merged_tree, ConfigSources};

/// The tracing target of this module's log lines, which `-d` selectors name.
pub const LOG_TARGET: &str = module_path!();

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
    /// The global `processors`.
    pub processors: Processors,
    /// `http.enabled: true`: where to serve the operator endpoints (`http.host`, default
    /// 127.0.0.1, and `http.port`, default 5066, as Metricbeat's monitoring endpoint).
    pub http_addr: Option<String>,
    /// `metricbeat.config.modules`: where modules.d files were read from, and whether to
    /// poll them for changes.
    pub modules_glob: Option<ModulesGlob>,
    /// Each modules.d file read, with the length and modification time it had when read:
    /// module reloading compares later polls with these.
    pub module_stamps: Vec<FileStamp>,
    /// `logging.*`, with the command line's `--environment`, `-e` and `-d` applied.
    pub logging: LoggingConfig,
    pub warnings: Vec<String>,
}

/// Read the files, apply `-E`, read modules.d, and decode everything, `logging` included,
/// with the command line's `--environment`, `-e` and `-d` applied to it.
pub fn load(sources: &ConfigSources) -> Result<AgentConfig, ConfigError> {
    let tree = merged_tree(sources)?;
    let paths = sources.paths();
    let glob = modules_glob(&tree, &paths)?;
    let files = match &glob {
        Some(g) => read_module_files(g, sources.strict_perms)?,
        None => Vec::new(),
    };
    let mut config = decode_with(&tree, glob, &files, sources.logging_defaults())?;
    config.logging = sources.finish_logging(config.logging);
    config.module_stamps = files
        .iter()
        .map(|f| (f.path.clone(), f.stamp.0, f.stamp.1))
        .collect();
    if sources.path_data.is_some() || config.path_data.as_os_str().is_empty() {
        config.path_data = paths.data;
    }
    Ok(config)
}

/// `logging.*` alone, as [`load`] decodes it: what the agent logs with when the rest of
/// the configuration does not load, so that the error goes where the logs go.
pub fn logging_config(sources: &ConfigSources) -> Result<LoggingConfig, ConfigError> {
    let tree = merged_tree(sources)?;
    let mut cfg = sources.logging_defaults();
    if let Some(node) = tree.get("logging") {
        let mut d = Decoder {
            warnings: Vec::new(),
        };
        logging::decode_logging(&mut d, node, &mut cfg)?;
    }
    Ok(sources.finish_logging(cfg))
}

/// Parse one YAML document (tests and `load`), `logging` over logp's defaults.
pub fn from_yaml(text: &str) -> Result<AgentConfig, ConfigError> {
    let logging = LoggingConfig::defaults(None, PathBuf::new());
    decode_with(&Node::from_yaml(text, "config")?, None, &[], logging)
}

/// Decode the merged tree; `files` are the modules.d files `glob` matched.
pub(crate) fn decode_with(
    root: &Node,
    glob: Option<ModulesGlob>,
    files: &[ModuleFile],
    logging: LoggingConfig,
) -> Result<AgentConfig, ConfigError> {
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
        processors: Processors::default(),
        http_addr: None,
        modules_glob: None,
        module_stamps: Vec::new(),
        logging,
        warnings: Vec::new(),
    };
    let mut queue_events = None;
    for (key, node) in d.map("", root)?.to_vec() {
        match key.as_str() {
            "metricbeat" => {
                modules_node = metricbeat_section(&mut d, &node, &mut config.max_start_delay)?
            }
            "name" => config.name = Some(string_value("name", &node)?).filter(|n| !n.is_empty()),
            "tags" => config.tags = string_list("tags", &node)?,
            "fields" => config.fields = Some(fields_map("fields", &node)?),
            "fields_under_root" => {
                config.fields_under_root = bool_value("fields_under_root", &node)?
            }
            "output" => output_node = Some(node.clone()),
            "processors" => {
                config.processors = Processors::parse("processors", &node, &mut d.warnings)?
            }
            "http" => config.http_addr = http_section(&mut d, &node)?,
            "logging" => logging::decode_logging(&mut d, &node, &mut config.logging)?,
            "queue" => queue_events = queue_section(&mut d, &node)?,
            "path" => path_section(&mut d, &node, &mut config.path_data)?,
            _ => d.unsupported_tree(&key, &node, ""),
        }
    }
    let entries = module_entries(modules_node.as_ref(), files)?;
    config.modules = decode_modules(&mut d, entries, glob.as_ref())?;
    config.modules_glob = glob;
    config.output = decode_output(&mut d, output_node.as_ref(), queue_events)?;
    config.warnings = d.warnings;
    Ok(config)
}

/// `metricbeat.*`: `max_start_delay` into `max_start_delay`, `config` checked; returns the
/// `modules` list, decoded later with the modules.d files.
fn metricbeat_section(
    d: &mut Decoder,
    node: &Node,
    max_start_delay: &mut Duration,
) -> Result<Option<Node>, ConfigError> {
    let mut modules = None;
    for (k, v) in d.map("metricbeat", node)?.to_vec() {
        let full = join("metricbeat", &k);
        match k.as_str() {
            "modules" => modules = Some(v),
            "max_start_delay" => *max_start_delay = duration_value(&full, &v)?,
            "config" => config_section(d, &v)?,
            _ => d.unsupported_tree(&full, &v, ""),
        }
    }
    Ok(modules)
}

/// `queue.mem.events`, the one queue setting; the rest are warnings.
fn queue_section(d: &mut Decoder, node: &Node) -> Result<Option<usize>, ConfigError> {
    let mut events = None;
    for (k, v) in d.map("queue", node)?.to_vec() {
        let full = join("queue", &k);
        if k != "mem" {
            d.unsupported_tree(&full, &v, ": only the memory queue exists");
            continue;
        }
        for (k, v) in d.map(&full, &v)?.to_vec() {
            let full = join("queue.mem", &k);
            match k.as_str() {
                "events" => events = Some(positive_int(&full, &v)? as usize),
                _ => {
                    d.unsupported_tree(&full, &v, ": events are sent as soon as they are collected")
                }
            }
        }
    }
    Ok(events)
}

/// `path.data`; `path.home` and `path.config` belong on the command line.
fn path_section(d: &mut Decoder, node: &Node, data: &mut PathBuf) -> Result<(), ConfigError> {
    for (k, v) in d.map("path", node)?.to_vec() {
        let full = join("path", &k);
        match k.as_str() {
            "data" => *data = PathBuf::from(string_value(&full, &v)?),
            "home" | "config" => d.unsupported(
                &full,
                ": pass it on the command line (--path.home, --path.config)",
            ),
            _ => d.unsupported_tree(&full, &v, ""),
        }
    }
    Ok(())
}

/// `http.{enabled,host,port}`: Metricbeat's monitoring endpoint, where the agent serves
/// /metrics, /healthz and /readyz.
fn http_section(d: &mut Decoder, node: &Node) -> Result<Option<String>, ConfigError> {
    let (mut enabled, mut host, mut port) = (false, "127.0.0.1".to_string(), 5066u64);
    for (k, v) in d.map("http", node)?.to_vec() {
        let full = join("http", &k);
        match k.as_str() {
            "enabled" => enabled = bool_value(&full, &v)?,
            "host" => host = string_value(&full, &v)?,
            "port" => {
                port = positive_int(&full, &v)?;
                if port > 65535 {
                    return Err(invalid(
                        &full,
                        format!("{port} is not a TCP port (1..65535)"),
                    ));
                }
            }
            _ => d.unsupported_tree(&full, &v, ""),
        }
    }
    // A unix socket (`unix:///path`) or named pipe is Metricbeat's too; we serve TCP only.
    if host.contains("://") {
        return Err(invalid(
            "http.host",
            format!("{host:?}: metricpipe serves the endpoint on TCP only; write a host name or address"),
        ));
    }
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    Ok(enabled.then(|| format!("{host}:{port}")))
}

/// `metricbeat.config.*`: `modules` is read by [`modules_glob`]; the rest is not supported.
fn config_section(d: &mut Decoder, node: &Node) -> Result<(), ConfigError> {
    for (k, v) in d.map("metricbeat.config", node)?.to_vec() {
        let full = join("metricbeat.config", &k);
        if k != "modules" {
            d.unsupported_tree(&full, &v, "");
            continue;
        }
        for (mk, mv) in d.map(&full, &v)?.to_vec() {
            if !matches!(mk.as_str(), "path" | "reload" | "enabled") {
                d.unsupported_tree(&join(&full, &mk), &mv, "");
            }
        }
    }
    Ok(())
}

/// Inline `metricbeat.modules` entries first, then each modules.d file's, each with the
/// name its errors and warnings use.
fn module_entries(
    inline: Option<&Node>,
    files: &[ModuleFile],
) -> Result<Vec<(String, Node)>, ConfigError> {
    let mut out = Vec::new();
    match inline {
        None | Some(Node::Null) => {}
        Some(Node::List(items)) => {
            for (i, item) in items.iter().enumerate() {
                out.push((format!("metricbeat.modules.{i}"), item.clone()));
            }
        }
        Some(other) => {
            return Err(invalid(
                "metricbeat.modules",
                format!("expected a list of modules, got {}", other.type_name()),
            ))
        }
    }
    for file in files {
        for (i, item) in file.entries.iter().enumerate() {
            out.push((format!("{}[{i}]", file.path.display()), item.clone()));
        }
    }
    Ok(out)
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

impl AgentConfig {
    /// The hostfs root of a module: its own setting, then `-system.hostfs`, then `/`.
    pub fn hostfs_for(module: &ModuleConfig, cli_hostfs: Option<&Path>) -> PathBuf {
        module
            .hostfs
            .clone()
            .or_else(|| cli_hostfs.map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("/"))
    }

    /// Point every `add_host_metadata` at its hostfs: the global processors at
    /// `-system.hostfs` (or `/`), a module's at [`AgentConfig::hostfs_for`] that module.
    pub fn bind_hostfs(&mut self, cli_hostfs: Option<&Path>) {
        let global = cli_hostfs.unwrap_or(Path::new("/"));
        self.processors.bind_hostfs(global);
        for m in &mut self.modules {
            let root = AgentConfig::hostfs_for(m, cli_hostfs);
            m.processors.bind_hostfs(&root);
        }
    }
}
