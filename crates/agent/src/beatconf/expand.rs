//! `${VAR}` and `${VAR:default}` from the environment in every string of a settings tree, as
//! go-ucfg expands them when Metricbeat loads its files.

use super::flag::parse_value;
use super::tree::{join, Node};
use crate::error::ConfigError;

impl Node {
    /// Expand `${VAR}` and `${VAR:default}` from the environment in every string, as
    /// Metricbeat does. References to other settings (`${path.config}`) are left as they are.
    pub fn expand_env(&mut self, key: &str) -> Result<(), ConfigError> {
        match self {
            Node::Str(s) if s.contains("${") => {
                let whole = s.starts_with("${") && s.find('}') == Some(s.len() - 1);
                let expanded = expand_str(s).map_err(|var| ConfigError::Invalid {
                    key: key.to_string(),
                    detail: format!(
                        "environment variable {var} is not set; set it or write ${{{var}:default}}"
                    ),
                })?;
                // go-ucfg parses a value that is one whole reference with its flag grammar:
                // `hosts: ${KAFKA_HOSTS}` with KAFKA_HOSTS=a:9092,b:9092 is a list of two.
                *self = match whole {
                    true => parse_value(&expanded).unwrap_or(Node::Str(expanded)),
                    false => Node::Str(expanded),
                };
            }
            Node::List(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    item.expand_env(&format!("{key}.{i}"))?;
                }
            }
            Node::Map(entries) => {
                for (k, v) in entries.iter_mut() {
                    let full = join(key, k);
                    v.expand_env(&full)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// `Err(name)` for a variable that is neither set nor given a default.
fn expand_str(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(':') {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        match (std::env::var(name), default) {
            (Ok(v), _) => out.push_str(&v),
            (Err(_), Some(d)) => out.push_str(d),
            (Err(_), None) if name.contains('.') => out.push_str(&rest[start..start + 3 + end]),
            (Err(_), None) => return Err(name.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
