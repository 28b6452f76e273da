//! `logging.*` as Metricbeat reads it (elastic-agent-libs `logp.Config` and
//! `logp.DefaultConfig`, libbeat's `-e`/`-d` flags in `logp/configure`).
//!
//! One output, chosen as logp's `createLogOutput` does: stderr (`to_stderr: true` or `-e`)
//! wins, then files (`to_files: true`), then the environment's default: stderr under
//! `--environment systemd` or `container` (what Metricbeat's deb/rpm unit and Docker image
//! pass). With no environment Metricbeat writes files; metricpipe writes stderr unless
//! `to_files: true` is set (a deliberate difference: nothing is hidden from a terminal).
//! Files: `${path.logs}/metricbeat-YYYYMMDD.ndjson`, 10 MiB, keepfiles 7, permissions
//! 0600, no interval, rotate on startup. `-d SELECTORS` raises the level to debug and adds
//! the selectors. `metrics.enabled` (true) and `metrics.period` (30s) pace the periodic
//! stats line. `json`: Metricbeat 8+ always writes ECS JSON; metricpipe writes it to files
//! and human text to stderr unless `json` says otherwise.

use std::path::PathBuf;
use std::time::Duration;

use crate::beatconf::tree::{join, Node};
use crate::beatconf::values::{bool_value, duration_value, invalid, string_list, string_value};
use crate::beatconf::values::{int_value, Decoder};
use crate::error::ConfigError;

/// logp's levels; `critical` logs as error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl LogLevel {
    fn parse(key: &str, text: &str) -> Result<LogLevel, ConfigError> {
        Ok(match text.trim().to_lowercase().as_str() {
            "debug" => LogLevel::Debug,
            "info" | "" => LogLevel::Info,
            "warning" | "warn" => LogLevel::Warning,
            "error" => LogLevel::Error,
            "critical" => LogLevel::Critical,
            other => {
                return Err(invalid(
                    key,
                    format!("invalid level '{other}': use debug, info, warning, error or critical"),
                ))
            }
        })
    }

    /// The tracing level name for an EnvFilter directive.
    pub fn directive(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warn",
            LogLevel::Error | LogLevel::Critical => "error",
        }
    }
}

/// `logging.files.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFiles {
    /// The directory; default `${path.logs}`.
    pub path: PathBuf,
    /// The file name stem; default `metricbeat`.
    pub name: String,
    pub rotate_every_bytes: u64,
    pub keep_files: u32,
    /// Unix mode bits of new files (and, as logp derives them, of the directory).
    pub permissions: u32,
    /// Rotate when this period of the calendar changes; zero means never.
    pub interval: Duration,
    pub rotate_on_startup: bool,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    Stderr,
    Files,
    /// `to_stderr: false` and `to_files: false` with no environment: logp's no-op core.
    Discard,
}

/// `logging.*`, with the command line's `-e`, `-d` and `--environment` applied. `None`
/// means "not set": [`LoggingConfig::output`] and [`LoggingConfig::json_for`] resolve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    pub level: LogLevel,
    pub selectors: Vec<String>,
    pub to_stderr: Option<bool>,
    pub to_files: Option<bool>,
    pub environment: Option<String>,
    pub files: LogFiles,
    pub metrics_enabled: bool,
    pub metrics_period: Duration,
    pub json: Option<bool>,
}

impl LoggingConfig {
    /// logp's `DefaultConfig(environment)`; `logs` is `${path.logs}`.
    pub fn defaults(environment: Option<&str>, logs: PathBuf) -> LoggingConfig {
        LoggingConfig {
            level: LogLevel::Info,
            selectors: Vec::new(),
            to_stderr: None,
            to_files: None,
            environment: environment.map(str::to_string),
            files: LogFiles {
                path: logs,
                name: "metricbeat".into(),
                rotate_every_bytes: 10 * 1024 * 1024,
                keep_files: 7,
                permissions: 0o600,
                interval: Duration::ZERO,
                rotate_on_startup: true,
            },
            metrics_enabled: true,
            metrics_period: Duration::from_secs(30),
            json: None,
        }
    }

    /// The one output, in logp's order (see the module docs for the no-environment case).
    pub fn output(&self) -> LogOutput {
        let container = matches!(self.environment.as_deref(), Some("systemd" | "container"));
        match (self.to_stderr, self.to_files) {
            (Some(true), _) => LogOutput::Stderr,
            (_, Some(true)) => LogOutput::Files,
            (Some(false), Some(false)) if !container => LogOutput::Discard,
            _ => LogOutput::Stderr,
        }
    }

    /// ECS JSON lines or human text for `output`: `json` when set, else JSON for files.
    pub fn json_for(&self, output: LogOutput) -> bool {
        self.json.unwrap_or(output == LogOutput::Files)
    }

    /// libbeat's `applyFlags`: `-e` turns stderr on; `-d` raises the level to debug and
    /// adds its selectors (comma-separated, as go-ucfg's StringsFlag splits them).
    pub fn apply_flags(&mut self, to_stderr: bool, debug_selectors: &[String]) {
        if to_stderr {
            self.to_stderr = Some(true);
        }
        let extra: Vec<String> = debug_selectors
            .iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if !extra.is_empty() && self.level > LogLevel::Debug {
            self.level = LogLevel::Debug;
        }
        self.selectors.extend(extra);
    }
}

/// Unix permission bits: `0600` (YAML 1.2 reads it as the integer 600, so an integer whose
/// digits are all octal is taken as written in octal), `"0600"`, or `0o600`.
fn permissions(key: &str, node: &Node) -> Result<u32, ConfigError> {
    let text = match node {
        Node::Int(i) => i.to_string(),
        Node::Str(s) => s.trim().trim_start_matches("0o").to_string(),
        other => {
            return Err(invalid(
                key,
                format!(
                    "expected a file mode such as 0600, got {}",
                    other.type_name()
                ),
            ))
        }
    };
    match u32::from_str_radix(&text, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err(invalid(
            key,
            format!("{text} is not a file mode: write octal digits up to 0777, e.g. 0600"),
        )),
    }
}

fn files_section(d: &mut Decoder, node: &Node, f: &mut LogFiles) -> Result<(), ConfigError> {
    for (k, v) in d.map("logging.files", node)?.to_vec() {
        let full = join("logging.files", &k);
        match k.as_str() {
            "path" => f.path = PathBuf::from(string_value(&full, &v)?),
            "name" => f.name = string_value(&full, &v)?,
            "rotateeverybytes" => {
                let n = int_value(&full, &v)?;
                if n < 1 {
                    return Err(invalid(&full, format!("must be at least 1, got {n}")));
                }
                f.rotate_every_bytes = n as u64;
            }
            "keepfiles" => {
                let n = int_value(&full, &v)?;
                if !(0..=1024).contains(&n) {
                    return Err(invalid(&full, format!("must be 0..1024, got {n}")));
                }
                f.keep_files = n as u32;
            }
            "permissions" => f.permissions = permissions(&full, &v)?,
            "interval" => {
                let i = duration_value(&full, &v)?;
                if !i.is_zero() && i < Duration::from_secs(1) {
                    return Err(invalid(&full, "must be 0 (off) or at least 1s"));
                }
                f.interval = i;
            }
            "rotateonstartup" => f.rotate_on_startup = bool_value(&full, &v)?,
            _ => d.unsupported_tree(&full, &v, ""),
        }
    }
    Ok(())
}

/// Decode the `logging` section over `cfg` (the defaults for the environment).
pub(crate) fn decode_logging(
    d: &mut Decoder,
    node: &Node,
    cfg: &mut LoggingConfig,
) -> Result<(), ConfigError> {
    for (k, v) in d.map("logging", node)?.to_vec() {
        let full = join("logging", &k);
        match k.as_str() {
            "level" => cfg.level = LogLevel::parse(&full, &string_value(&full, &v)?)?,
            "selectors" => cfg.selectors = string_list(&full, &v)?,
            "to_stderr" => cfg.to_stderr = Some(bool_value(&full, &v)?),
            "to_files" => cfg.to_files = Some(bool_value(&full, &v)?),
            "json" => cfg.json = Some(bool_value(&full, &v)?),
            "files" => files_section(d, &v, &mut cfg.files)?,
            "metrics" => {
                for (mk, mv) in d.map(&full, &v)?.to_vec() {
                    let mfull = join(&full, &mk);
                    match mk.as_str() {
                        "enabled" => cfg.metrics_enabled = bool_value(&mfull, &mv)?,
                        "period" => {
                            cfg.metrics_period = duration_value(&mfull, &mv)?;
                            if cfg.metrics_period.is_zero() {
                                return Err(invalid(&mfull, "must be more than 0, e.g. 30s"));
                            }
                        }
                        _ => d.unsupported_tree(&mfull, &mv, ""),
                    }
                }
            }
            "to_syslog" | "to_eventlog" if matches!(v, Node::Bool(false)) => {}
            _ => d.unsupported_tree(&full, &v, ""),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(yaml: &str) -> Result<LoggingConfig, ConfigError> {
        let node = Node::from_yaml(yaml, "t").unwrap();
        let mut cfg = LoggingConfig::defaults(None, PathBuf::from("/var/log/metricbeat"));
        let mut d = Decoder {
            warnings: Vec::new(),
        };
        decode_logging(&mut d, node.get("logging").unwrap(), &mut cfg)?;
        Ok(cfg)
    }

    #[test]
    fn the_output_follows_logp_and_the_environment() {
        let plain = LoggingConfig::defaults(None, "/l".into());
        assert_eq!(plain.output(), LogOutput::Stderr);
        assert!(!plain.json_for(LogOutput::Stderr) && plain.json_for(LogOutput::Files));
        assert_eq!(plain.files.rotate_every_bytes, 10_485_760);
        assert_eq!(
            (plain.files.keep_files, plain.files.permissions),
            (7, 0o600)
        );
        let mut files = plain.clone();
        files.to_files = Some(true);
        assert_eq!(files.output(), LogOutput::Files);
        // -e wins over files.
        files.apply_flags(true, &[]);
        assert_eq!(files.output(), LogOutput::Stderr);
        let mut off = plain.clone();
        (off.to_stderr, off.to_files) = (Some(false), Some(false));
        assert_eq!(off.output(), LogOutput::Discard);
        for env in ["systemd", "container"] {
            let mut c = LoggingConfig::defaults(Some(env), "/l".into());
            assert_eq!(c.output(), LogOutput::Stderr, "{env}");
            (c.to_stderr, c.to_files) = (Some(false), Some(false));
            assert_eq!(c.output(), LogOutput::Stderr, "{env}");
        }
    }

    #[test]
    fn every_key() {
        let c = decode(
            "logging:\n  level: warning\n  selectors: [publisher, kafka]\n  to_stderr: true\n  to_files: false\n  json: false\n  metrics: {enabled: false, period: 1m}\n  files:\n    path: /tmp/l\n    name: mb\n    keepfiles: 3\n    permissions: 0640\n    rotateeverybytes: 2048\n    interval: 1h\n    rotateonstartup: false\n",
        )
        .unwrap();
        assert_eq!(c.level, LogLevel::Warning);
        assert_eq!(c.selectors, ["publisher", "kafka"]);
        assert_eq!(
            (c.to_stderr, c.to_files, c.json),
            (Some(true), Some(false), Some(false))
        );
        assert!(!c.metrics_enabled);
        assert_eq!(c.metrics_period, Duration::from_secs(60));
        assert_eq!(c.files.path, PathBuf::from("/tmp/l"));
        assert_eq!(c.files.name, "mb");
        assert_eq!(c.files.keep_files, 3);
        assert_eq!(c.files.permissions, 0o640);
        assert_eq!(c.files.rotate_every_bytes, 2048);
        assert_eq!(c.files.interval, Duration::from_secs(3600));
        assert!(!c.files.rotate_on_startup);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (yaml, key) in [
            ("logging.level: loud", "logging.level"),
            ("logging.files.keepfiles: 2000", "logging.files.keepfiles"),
            (
                "logging.files.permissions: 0800",
                "logging.files.permissions",
            ),
            (
                "logging.files.rotateeverybytes: 0",
                "logging.files.rotateeverybytes",
            ),
            ("logging.files.interval: 10ms", "logging.files.interval"),
            ("logging.metrics.period: 0s", "logging.metrics.period"),
        ] {
            let e = decode(yaml).unwrap_err().to_string();
            assert!(e.contains(key), "{yaml}: {e}");
        }
    }

    #[test]
    fn dash_e_and_dash_d() {
        let mut c = LoggingConfig::defaults(None, "/l".into());
        c.apply_flags(true, &["publisher,kafka".into(), "processors".into()]);
        assert_eq!(c.output(), LogOutput::Stderr);
        assert_eq!(c.level, LogLevel::Debug);
        assert_eq!(c.selectors, ["publisher", "kafka", "processors"]);
        let mut c = LoggingConfig::defaults(None, "/l".into());
        c.apply_flags(false, &[]);
        assert_eq!(c.level, LogLevel::Info);
        assert_eq!(permissions("k", &Node::Str("0o644".into())).unwrap(), 0o644);
    }
}
