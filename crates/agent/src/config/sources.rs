//! Where the settings come from: the command line's files, directories and flags, and the
//! merged settings tree they give.

use std::path::PathBuf;

use super::logging::LoggingConfig;
use crate::beatconf::flag::parse_override;
use crate::beatconf::modules_d::check_perms;
use crate::beatconf::paths::ConfigPaths;
use crate::beatconf::tree::Node;
use crate::error::ConfigError;

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
    /// `--path.logs`; defaults to `${path.home}/logs`.
    pub path_logs: Option<PathBuf>,
    /// `-E key=value` overrides, applied after the files.
    pub overrides: Vec<String>,
    /// `--strict.perms` (Metricbeat's default is true): refuse config files that group or
    /// others can write, or that another user owns.
    pub strict_perms: bool,
    /// `--environment`: where the agent runs (systemd, container, ...), which chooses
    /// logging's default output.
    pub environment: Option<String>,
    /// `-e`: log to stderr whatever `logging.*` says.
    pub log_to_stderr: bool,
    /// `-d SELECTORS` (repeatable, comma-separated): debug logging for these selectors.
    pub debug_selectors: Vec<String>,
}

impl ConfigSources {
    pub fn paths(&self) -> ConfigPaths {
        let home = self.path_home.clone().unwrap_or_else(|| PathBuf::from("."));
        ConfigPaths {
            config: self.path_config.clone().unwrap_or_else(|| home.clone()),
            data: self.path_data.clone().unwrap_or_else(|| home.join("data")),
            logs: self.path_logs.clone().unwrap_or_else(|| home.join("logs")),
            home,
        }
    }

    /// The config files to read, resolved against `path.config` as Metricbeat does.
    pub fn resolved_files(&self) -> Vec<PathBuf> {
        let config_dir = self.paths().config;
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

    /// logp's defaults for [`ConfigSources::environment`], with the files under `path.logs`.
    pub(crate) fn logging_defaults(&self) -> LoggingConfig {
        LoggingConfig::defaults(self.environment.as_deref(), self.paths().logs)
    }

    /// What the command line adds to the decoded `logging.*`: `${path.*}` expanded in
    /// `logging.files.path`, then `-e` and `-d` applied.
    pub(crate) fn finish_logging(&self, mut cfg: LoggingConfig) -> LoggingConfig {
        let expanded = self.paths().expand(&cfg.files.path.to_string_lossy());
        cfg.files.path = PathBuf::from(expanded);
        cfg.apply_flags(self.log_to_stderr, &self.debug_selectors);
        cfg
    }
}

/// The merged settings tree: the files in order, then `-E`, then `${VAR}` expansion.
pub fn merged_tree(sources: &ConfigSources) -> Result<Node, ConfigError> {
    let mut tree = Node::empty_map();
    for path in sources.resolved_files() {
        if sources.strict_perms {
            check_perms(&path)?;
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        tree.merge(Node::from_yaml(&text, &path.display().to_string())?);
    }
    for item in &sources.overrides {
        let (key, value) = parse_override(item).map_err(|detail| ConfigError::Override {
            arg: item.clone(),
            detail,
        })?;
        // Maps merge into what the files say, anything else replaces it (go-ucfg's merge).
        tree.set_path(key.trim(), value, true);
    }
    tree.expand_env("")?;
    Ok(tree)
}
