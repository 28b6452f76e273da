//! Scalar decoding with the key kept for errors, and the decoder that collects warnings.

use std::time::Duration;

use super::tree::{join, Node};
use crate::error::ConfigError;

pub(crate) struct Decoder {
    pub(crate) warnings: Vec<String>,
}

pub(crate) fn invalid(key: &str, detail: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        detail: detail.into(),
    }
}

impl Decoder {
    pub(crate) fn unsupported(&mut self, key: &str, why: &str) {
        self.warnings.push(format!(
            "setting `{key}` is not supported by metricpipe and is ignored{why}"
        ));
    }

    /// Warn about every leaf under `node` (a whole unsupported section).
    pub(crate) fn unsupported_tree(&mut self, key: &str, node: &Node, why: &str) {
        match node {
            Node::Map(entries) if !entries.is_empty() => {
                for (k, v) in entries {
                    self.unsupported_tree(&join(key, k), v, why);
                }
            }
            _ => self.unsupported(key, why),
        }
    }

    pub(crate) fn map<'a>(
        &self,
        key: &str,
        node: &'a Node,
    ) -> Result<&'a [(String, Node)], ConfigError> {
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

pub(crate) fn bool_value(key: &str, node: &Node) -> Result<bool, ConfigError> {
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

pub(crate) fn int_value(key: &str, node: &Node) -> Result<i64, ConfigError> {
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

pub(crate) fn positive_int(key: &str, node: &Node) -> Result<u64, ConfigError> {
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
    if secs.is_nan() || secs < 0.0 {
        return Err(invalid(key, format!("must not be negative, got {secs}")));
    }
    if secs * 1e9 >= GO_MAX_NANOS {
        return Err(invalid(key, out_of_range(&secs.to_string())));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Go's `time.Duration` is an int64 of nanoseconds: nothing above ~292 years.
pub const GO_MAX_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);
const GO_MAX_NANOS: f64 = i64::MAX as f64;

fn out_of_range(what: &str) -> String {
    format!("{what} is out of range: durations go up to 2562047h47m16.854775807s (Go's time.Duration), e.g. write \"10s\"")
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
        if total >= GO_MAX_NANOS {
            return Err(out_of_range(&format!("{text:?}")));
        }
    }
    Ok(Duration::from_nanos(total.round() as u64))
}
