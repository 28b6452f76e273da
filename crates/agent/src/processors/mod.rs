//! libbeat's processors, global (`processors:`) and per module, each with an optional
//! `when` condition: add_host_metadata, add_fields, drop_fields, include_fields,
//! drop_event, rename, add_tags, add_labels, copy_fields, add_locale. Any other processor
//! (add_cloud_metadata, add_docker_metadata, add_kubernetes_metadata, ...) is one warning
//! that names it, and the agent runs without it.
//!
//! Semantics follow libbeat's `processors/actions` package: a processor that fails on one
//! event (a missing field without `ignore_missing`, a rename onto an existing field) leaves
//! that event as it was before the processor and goes on; only drop_event drops.

mod condition;
pub mod host_info;
mod host_metadata;
pub mod netinfo;
mod network;

use std::path::Path;

use metricpipe_collect::{Map, Value};

pub use condition::Condition;
pub use host_metadata::{host_fields, HostMetadata};

use crate::beatconf::tree::to_value;
use crate::beatconf::tree::Node;
use crate::error::ConfigError;

/// The tracing target of this module's log lines, which `-d` selectors name.
pub const LOG_TARGET: &str = module_path!();

/// Fields libbeat never removes (drop_fields) and always keeps (include_fields).
const PROTECTED: [&str; 3] = ["@timestamp", "@metadata", "type"];

#[derive(Debug, Clone)]
enum Action {
    AddFields {
        target: String,
        fields: Map,
    },
    DropFields {
        fields: Vec<String>,
    },
    IncludeFields {
        fields: Vec<String>,
    },
    DropEvent,
    Rename {
        pairs: Vec<(String, String)>,
        ignore_missing: bool,
        fail_on_error: bool,
    },
    Copy {
        pairs: Vec<(String, String)>,
        ignore_missing: bool,
        fail_on_error: bool,
    },
    AddTags {
        target: String,
        tags: Vec<String>,
    },
    AddLocale {
        abbreviation: bool,
    },
    AddHostMetadata(Box<HostMetadata>),
}

#[derive(Debug, Clone)]
struct Processor {
    action: Action,
    when: Option<Condition>,
}

/// An ordered list of processors. Two lists are equal when written the same way (module
/// reloading compares them).
#[derive(Debug, Clone, Default)]
pub struct Processors(Vec<Processor>, Option<Node>);

impl PartialEq for Processors {
    fn eq(&self, other: &Self) -> bool {
        self.1 == other.1
    }
}

fn invalid(key: &str, detail: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        detail: detail.into(),
    }
}

fn strings(key: &str, node: Option<&Node>) -> Result<Vec<String>, ConfigError> {
    match node {
        None | Some(Node::Null) => Ok(Vec::new()),
        Some(Node::List(items)) => items
            .iter()
            .map(|n| n.as_text().ok_or_else(|| invalid(key, "expected strings")))
            .collect(),
        Some(other) => Ok(vec![other
            .as_text()
            .ok_or_else(|| invalid(key, "expected a string or a list of strings"))?]),
    }
}

fn flag(key: &str, node: Option<&Node>, default: bool) -> Result<bool, ConfigError> {
    match node {
        None | Some(Node::Null) => Ok(default),
        Some(Node::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid(key, "expected true or false")),
    }
}

/// `fields: [{from: a, to: b}, ...]`.
fn from_to(key: &str, node: Option<&Node>) -> Result<Vec<(String, String)>, ConfigError> {
    let Some(Node::List(items)) = node else {
        return Err(invalid(key, "expected a list of {from: field, to: field}"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let get = |k| item.get(k).and_then(Node::as_text);
            match (get("from"), get("to")) {
                (Some(f), Some(t)) => Ok((f, t)),
                _ => Err(invalid(&format!("{key}.{i}"), "needs `from` and `to`")),
            }
        })
        .collect()
}

impl Processors {
    /// Parse a `processors:` list; `key` is where it sits (`processors`,
    /// `metricbeat.modules.0.processors`). Unsupported processors become warnings.
    pub fn parse(
        key: &str,
        node: &Node,
        warnings: &mut Vec<String>,
    ) -> Result<Processors, ConfigError> {
        let items = match node {
            Node::Null => return Ok(Processors::default()),
            Node::List(items) => items,
            other => {
                return Err(invalid(
                    key,
                    format!("expected a list of processors, got {}", other.type_name()),
                ))
            }
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Node::Map(entries) = item else {
                return Err(invalid(
                    &format!("{key}.{i}"),
                    "each processor is a map like `add_fields: {...}`",
                ));
            };
            for (name, cfg) in entries {
                let k = format!("{key}.{i}.{name}");
                if let Some(p) = parse_one(&k, name, cfg, warnings)? {
                    out.push(p);
                }
            }
        }
        Ok(Processors(out, Some(node.clone())))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Read host facts (`add_host_metadata`) under `root` from now on: the
    /// `-system.hostfs` root, `/` on a host.
    pub fn bind_hostfs(&mut self, root: &Path) {
        for p in &mut self.0 {
            if let Action::AddHostMetadata(h) = &mut p.action {
                h.bind_hostfs(root);
            }
        }
    }

    /// Run the processors in order; `None` when the event is dropped.
    pub fn run(&self, mut event: Map) -> Option<Map> {
        for p in &self.0 {
            if p.when.as_ref().is_some_and(|c| !c.matches(&event)) {
                continue;
            }
            if matches!(p.action, Action::DropEvent) {
                return None;
            }
            let before = event.clone();
            if let Err(error) = apply(&p.action, &mut event) {
                tracing::debug!(%error, "a processor failed on an event; the event goes on unchanged by it");
                event = before;
            }
        }
        Some(event)
    }
}

/// `add_labels: {labels: {...}}`. libbeat flattens labels: `labels: {a: {b: 1}}` is
/// `labels."a.b": 1`.
fn add_labels(key: &str, labels: Option<&Node>) -> Result<Action, ConfigError> {
    let Some(labels) = labels else {
        return Err(invalid(key, "expected a map of labels"));
    };
    let mut flat = Vec::new();
    labels.flatten_ref("", &mut flat);
    let mut fields = Map::new();
    for (k, v) in flat {
        fields.insert(k, to_value(v));
    }
    Ok(Action::AddFields {
        target: "labels".into(),
        fields,
    })
}

fn parse_one(
    key: &str,
    name: &str,
    cfg: &Node,
    warnings: &mut Vec<String>,
) -> Result<Option<Processor>, ConfigError> {
    let when = match cfg.get("when") {
        Some(w) => Some(
            Condition::parse(&format!("{key}.when"), w)
                .map_err(|e| invalid(&format!("{key}.when"), e))?,
        ),
        None => None,
    };
    let field = |f: &str| cfg.get(f);
    let sub = |f: &str| format!("{key}.{f}");
    let action = match name {
        "add_fields" => {
            let fields = match field("fields").map(to_value) {
                Some(Value::Object(m)) => m,
                _ => return Err(invalid(&sub("fields"), "expected a map of fields to add")),
            };
            let target = match field("target") {
                None => "fields".to_string(),
                Some(n) => n.as_text().unwrap_or_default(),
            };
            Action::AddFields { target, fields }
        }
        "add_labels" => add_labels(&sub("labels"), field("labels"))?,
        "drop_fields" => Action::DropFields {
            fields: strings(&sub("fields"), field("fields"))?,
        },
        "include_fields" => Action::IncludeFields {
            fields: strings(&sub("fields"), field("fields"))?,
        },
        "drop_event" => Action::DropEvent,
        "add_host_metadata" => Action::AddHostMetadata(Box::new(HostMetadata::parse(key, cfg)?)),
        "rename" | "copy_fields" => {
            let pairs = from_to(&sub("fields"), field("fields"))?;
            let ignore_missing = flag(&sub("ignore_missing"), field("ignore_missing"), false)?;
            let fail_on_error = flag(&sub("fail_on_error"), field("fail_on_error"), true)?;
            if name == "rename" {
                Action::Rename {
                    pairs,
                    ignore_missing,
                    fail_on_error,
                }
            } else {
                Action::Copy {
                    pairs,
                    ignore_missing,
                    fail_on_error,
                }
            }
        }
        "add_tags" => Action::AddTags {
            tags: strings(&sub("tags"), field("tags"))?,
            target: field("target")
                .and_then(Node::as_text)
                .unwrap_or_else(|| "tags".into()),
        },
        "add_locale" => Action::AddLocale {
            abbreviation: match field("format").and_then(Node::as_text).as_deref() {
                None | Some("offset") => false,
                Some("abbreviation") => true,
                Some(other) => {
                    return Err(invalid(
                        &sub("format"),
                        format!("{other:?}: use offset or abbreviation"),
                    ))
                }
            },
        },
        other => {
            warnings.push(format!(
                "processor `{other}` ({key}) is not supported by metricpipe and is skipped; the agent runs without it"
            ));
            return Ok(None);
        }
    };
    Ok(Some(Processor { action, when }))
}

fn apply(action: &Action, event: &mut Map) -> Result<(), String> {
    match action {
        Action::AddFields { target, fields } => {
            if target.is_empty() {
                event.deep_merge(fields, true);
            } else {
                let mut wrapped = Map::new();
                wrapped.put_path(target, Value::Object(fields.clone()));
                event.deep_merge(&wrapped, true);
            }
        }
        Action::DropFields { fields } => {
            for f in fields.iter().filter(|f| !PROTECTED.contains(&f.as_str())) {
                event.remove_path(f);
            }
        }
        Action::IncludeFields { fields } => {
            let mut kept = Map::new();
            for f in fields.iter().map(String::as_str).chain(PROTECTED) {
                if let Some(v) = event.get_path(f) {
                    kept.put_path(f, v.clone());
                }
            }
            *event = kept;
        }
        Action::DropEvent => {}
        Action::AddHostMetadata(h) => h.apply(event),
        Action::Rename {
            pairs,
            ignore_missing,
            fail_on_error,
        }
        | Action::Copy {
            pairs,
            ignore_missing,
            fail_on_error,
        } => {
            let rename = matches!(action, Action::Rename { .. });
            for (from, to) in pairs {
                let result = move_field(event, from, to, rename, *ignore_missing);
                if let Err(e) = result {
                    if *fail_on_error {
                        return Err(e);
                    }
                }
            }
        }
        Action::AddTags { target, tags } => {
            let mut list = match event.remove_path(target) {
                Some(Value::Array(items)) => items,
                Some(Value::Str(s)) => vec![Value::Str(s)],
                Some(other) => {
                    event.put_path(target, other);
                    return Err(format!("`{target}` is not a list of tags"));
                }
                None => Vec::new(),
            };
            for t in tags {
                if !list.iter().any(|v| matches!(v, Value::Str(s) if s == t)) {
                    list.push(Value::Str(t.clone()));
                }
            }
            event.put_path(target, Value::Array(list));
        }
        Action::AddLocale { abbreviation } => {
            let (offset_secs, abbr) = local_zone();
            let value = if *abbreviation {
                abbr
            } else {
                let sign = if offset_secs < 0 { '-' } else { '+' };
                let m = offset_secs.unsigned_abs() / 60;
                format!("{sign}{:02}:{:02}", m / 60, m % 60)
            };
            event.put_path("event.timezone", Value::Str(value));
        }
    }
    Ok(())
}

fn move_field(
    event: &mut Map,
    from: &str,
    to: &str,
    rename: bool,
    ignore_missing: bool,
) -> Result<(), String> {
    let Some(value) = event.get_path(from).cloned() else {
        return if ignore_missing {
            Ok(())
        } else {
            Err(format!("field `{from}` is missing"))
        };
    };
    if event.get_path(to).is_some() {
        return Err(format!("target field `{to}` already exists"));
    }
    if rename {
        event.remove_path(from);
    }
    event.put_path(to, value);
    Ok(())
}

/// The local time zone's UTC offset in seconds and its abbreviation, from libc.
fn local_zone() -> (i64, String) {
    // SAFETY: time(NULL) and localtime_r into a zeroed tm are always valid.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return (0, "UTC".into());
        }
        let abbr = if tm.tm_zone.is_null() {
            "UTC".to_string()
        } else {
            std::ffi::CStr::from_ptr(tm.tm_zone)
                .to_string_lossy()
                .into_owned()
        };
        (tm.tm_gmtoff, abbr)
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
