//! `metricpipe agent export config`: the merged effective configuration as YAML, as
//! Metricbeat's `export config` prints it, with secrets masked.

use crate::beatconf::modules_d::read_module_files;
use crate::beatconf::tree::{join, Node};
use crate::config::modules_glob;
use crate::config::{merged_tree, ConfigSources};
use crate::error::ConfigError;

/// The value printed in place of a secret.
pub const MASK: &str = "xxxxx";

/// The files in order, `-E`, `${VAR}` expanded, and the modules.d entries appended to
/// `metricbeat.modules`; values of secret keys (see [`is_secret_key`]) are replaced by
/// [`MASK`].
pub fn effective_yaml(sources: &ConfigSources) -> Result<String, ConfigError> {
    let mut tree = merged_tree(sources)?;
    if let Some(glob) = modules_glob(&tree, &sources.paths())? {
        let files = read_module_files(&glob, sources.strict_perms)?;
        let mut modules = match tree.get("metricbeat").and_then(|m| m.get("modules")) {
            Some(Node::List(items)) => items.clone(),
            _ => Vec::new(),
        };
        modules.extend(files.into_iter().flat_map(|f| f.entries));
        if !modules.is_empty() {
            tree.set_path("metricbeat.modules", Node::List(modules), false);
        }
    }
    mask(&mut tree, "");
    serde_yaml_ng::to_string(&to_yaml(&tree)).map_err(|e| ConfigError::Yaml {
        origin: "the effective configuration".into(),
        detail: e.to_string(),
    })
}

/// Keys whose values are credentials: Metricbeat's `password`/`passphrase` family, and the
/// librdkafka properties that carry secrets.
pub fn is_secret_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    let full = key.to_ascii_lowercase();
    matches!(last.as_str(), "pass" | "api_key" | "token")
        || last.contains("password")
        || last.contains("passphrase")
        || last.contains("secret")
        || full.ends_with("sasl.password")
        || full.ends_with("ssl.key.pem")
}

fn mask(node: &mut Node, key: &str) {
    match node {
        Node::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                let full = join(key, k);
                if is_secret_key(&full) && !matches!(v, Node::Map(_) | Node::Null) {
                    *v = Node::Str(MASK.into());
                } else {
                    mask(v, &full);
                }
            }
        }
        Node::List(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                mask(item, &format!("{key}.{i}"));
            }
        }
        _ => {}
    }
}

fn to_yaml(node: &Node) -> serde_yaml_ng::Value {
    use serde_yaml_ng::Value as Y;
    match node {
        Node::Null => Y::Null,
        Node::Bool(b) => Y::Bool(*b),
        Node::Int(i) => Y::Number((*i).into()),
        Node::Float(f) => Y::Number((*f).into()),
        Node::Str(s) => Y::String(s.clone()),
        Node::List(items) => Y::Sequence(items.iter().map(to_yaml).collect()),
        Node::Map(entries) => Y::Mapping(
            entries
                .iter()
                .map(|(k, v)| (Y::String(k.clone()), to_yaml(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_the_rest_kept() {
        let mut tree = Node::from_yaml(
            "output.kafka: {hosts: [k:9092], password: hunter2, username: u, key: '%{[host.name]}', librdkafka: {sasl.password: p, ssl.key.password: q}}\n",
            "t",
        )
        .unwrap();
        mask(&mut tree, "");
        let text = serde_yaml_ng::to_string(&to_yaml(&tree)).unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains(": p\n") && !text.contains(": q\n"),
            "{text}"
        );
        assert!(
            text.contains("username: u") && text.contains("%{[host.name]}"),
            "{text}"
        );
        assert_eq!(text.matches(MASK).count(), 3, "{text}");
    }
}
