//! `metricbeat.modules` entries (inline and from modules.d) into [`ModuleConfig`]s, and
//! `metricbeat.config.modules` into the glob of the modules.d files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use metricpipe_collect::CpuMetrics;

use crate::beatconf::modules_d::ModulesGlob;
use crate::beatconf::paths::ConfigPaths;
use crate::beatconf::tree::{join, Node};
use crate::beatconf::values::*;
use crate::error::ConfigError;
use crate::processors::Processors;

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
    /// The module's own `processors`, run before the global ones.
    pub processors: Processors,
    pub period: Duration,
    /// The module's `hostfs`; `None` falls back to `-system.hostfs`, then `/`.
    pub hostfs: Option<PathBuf>,
    pub cpu_metrics: CpuMetrics,
}

/// What one entry gave: nothing (disabled), a skipped module, or one to run.
enum Entry {
    Disabled,
    Skipped,
    Run(ModuleConfig),
}

/// Read `metricbeat.config.modules` from the merged settings; `None` when it is not set.
pub fn modules_glob(root: &Node, paths: &ConfigPaths) -> Result<Option<ModulesGlob>, ConfigError> {
    let Some(section) = root
        .get("metricbeat")
        .and_then(|m| m.get("config"))
        .and_then(|c| c.get("modules"))
    else {
        return Ok(None);
    };
    const KEY: &str = "metricbeat.config.modules";
    let path = match section.get("path") {
        Some(Node::Str(p)) if !p.trim().is_empty() => p.clone(),
        Some(Node::Null) | None => return Ok(None),
        Some(other) => {
            return Err(invalid(
                &format!("{KEY}.path"),
                format!(
                    "expected a glob like ${{path.config}}/modules.d/*.yml, got {}",
                    other.type_name()
                ),
            ))
        }
    };
    let reload = section.get("reload");
    let enabled = match reload.and_then(|r| r.get("enabled")) {
        Some(Node::Bool(b)) => *b,
        Some(Node::Null) | None => false,
        Some(other) => {
            return Err(invalid(
                &format!("{KEY}.reload.enabled"),
                format!("expected true or false, got {}", other.type_name()),
            ))
        }
    };
    let period = match reload.and_then(|r| r.get("period")) {
        Some(p) => duration_value(&format!("{KEY}.reload.period"), p)?,
        None => Duration::from_secs(10),
    };
    if enabled && period.is_zero() {
        return Err(invalid(
            &format!("{KEY}.reload.period"),
            "must be positive, e.g. 10s",
        ));
    }
    let expanded = paths.expand(&path);
    let pattern = Path::new(&expanded);
    let pattern = if pattern.is_absolute() {
        pattern.to_path_buf()
    } else {
        paths.config.join(pattern)
    };
    Ok(Some(ModulesGlob {
        key: format!("{KEY}.path"),
        pattern,
        reload: enabled.then_some(period),
    }))
}

/// Decode every entry, inline first, then modules.d. With `glob` set and reloading on, an
/// empty result is fine (files may appear later); otherwise it is an error that repeats the
/// warnings explaining why nothing is left.
pub(crate) fn decode_modules(
    d: &mut Decoder,
    entries: Vec<(String, Node)>,
    glob: Option<&ModulesGlob>,
) -> Result<Vec<ModuleConfig>, ConfigError> {
    let reloading = glob.is_some_and(|g| g.reload.is_some());
    if entries.is_empty() && !reloading {
        return Err(match glob {
            Some(g) => invalid(
                "metricbeat.config.modules.path",
                format!(
                    "no modules or inputs enabled and configuration reloading disabled: no file matches {} and metricbeat.modules is empty. Enable a module (e.g. rename modules.d/system.yml.disabled to modules.d/system.yml) or set reload.enabled: true",
                    g.pattern.display()
                ),
            ),
            None => invalid(
                "metricbeat.modules",
                "one or more modules must be configured",
            ),
        });
    }
    let warnings_before = d.warnings.len();
    let mut modules = Vec::new();
    let mut any_enabled = false;
    for (prefix, entry) in &entries {
        match decode_entry(d, prefix, entry)? {
            Entry::Disabled => {}
            Entry::Skipped => any_enabled = true,
            Entry::Run(m) => {
                any_enabled = true;
                modules.push(m);
            }
        }
    }
    if reloading {
        return Ok(modules);
    }
    if !any_enabled {
        return Err(invalid(
            "metricbeat.modules",
            "all modules are disabled; set `enabled: true` on one",
        ));
    }
    if modules.is_empty() {
        let why = d.warnings[warnings_before..].join("; ");
        return Err(invalid(
            "metricbeat.modules",
            format!("no enabled `system` module with the cpu or memory metricset: nothing to collect. {why}"),
        ));
    }
    Ok(modules)
}

fn decode_entry(d: &mut Decoder, prefix: &str, entry: &Node) -> Result<Entry, ConfigError> {
    let mut name = None;
    let mut metricsets = None;
    let mut enabled = true;
    let mut period = Duration::from_secs(10);
    let mut hostfs = None;
    let mut cpu_metrics = None;
    let mut cpu_ticks = false;
    let mut processors = None;
    let mut rest = Vec::new();
    for (k, v) in d.map(prefix, entry)?.to_vec() {
        let full = join(prefix, &k);
        match k.as_str() {
            "module" => name = Some(string_value(&full, &v)?),
            "metricsets" => metricsets = Some(string_list(&full, &v)?),
            "enabled" => enabled = bool_value(&full, &v)?,
            "period" => {
                period = duration_value(&full, &v)?;
                if period.is_zero() {
                    return Err(invalid(&full, "must be positive, e.g. 10s"));
                }
            }
            "hostfs" => hostfs = Some(PathBuf::from(string_value(&full, &v)?)),
            "cpu" => {
                for (ck, cv) in d.map(&full, &v)?.to_vec() {
                    let cfull = join(&full, &ck);
                    match ck.as_str() {
                        "metrics" => cpu_metrics = Some(decode_cpu_metrics(&cfull, &cv)?),
                        _ => rest.push((cfull, cv)),
                    }
                }
            }
            "cpu_ticks" => cpu_ticks = bool_value(&full, &v)?,
            "processors" => processors = Some((full, v)),
            _ => rest.push((full, v)),
        }
    }
    let name = name.ok_or_else(|| {
        invalid(
            &join(prefix, "module"),
            "every module entry needs `module: system`",
        )
    })?;
    if !enabled {
        return Ok(Entry::Disabled);
    }
    if name != "system" {
        d.warnings.push(format!(
            "module `{name}` ({prefix}) is not supported by metricpipe and is skipped; only `system` is"
        ));
        return Ok(Entry::Skipped);
    }
    let names = metricsets.unwrap_or_else(|| vec!["cpu".into(), "memory".into()]);
    let sets = known_metricsets(d, prefix, names);
    if sets.is_empty() {
        return Ok(Entry::Skipped);
    }
    // Settings of a module that runs; those of skipped modules need no warning of their own.
    for (full, v) in rest {
        d.unsupported_tree(&full, &v, "");
    }
    let mut cpu_metrics = cpu_metrics.unwrap_or_default();
    cpu_metrics.ticks |= cpu_ticks;
    let processors = match processors {
        Some((full, v)) => Processors::parse(&full, &v, &mut d.warnings)?,
        None => Processors::default(),
    };
    Ok(Entry::Run(ModuleConfig {
        metricsets: sets,
        processors,
        period,
        hostfs,
        cpu_metrics,
    }))
}

/// The metricsets metricpipe collects, in order without repeats; a warning for each other.
fn known_metricsets(d: &mut Decoder, prefix: &str, names: Vec<String>) -> Vec<Metricset> {
    let mut sets = Vec::new();
    for n in names {
        let set = match n.trim() {
            "cpu" => Metricset::Cpu,
            "memory" => Metricset::Memory,
            _ => {
                let hint = if n.contains(',') {
                    format!(
                        " (one name with a comma: write a list, e.g. metricsets: [{}])",
                        n.split(',').map(str::trim).collect::<Vec<_>>().join(", ")
                    )
                } else {
                    String::new()
                };
                d.warnings.push(format!(
                    "metricset `system/{n}` ({prefix}.metricsets) is not supported by metricpipe and is skipped; cpu and memory are{hint}"
                ));
                continue;
            }
        };
        if !sets.contains(&set) {
            sets.push(set);
        }
    }
    sets
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
