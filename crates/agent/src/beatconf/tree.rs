//! A settings tree with go-ucfg's merge rules: dotted keys and nested maps are the same
//! thing (`output.kafka.hosts: [...]` == `output: {kafka: {hosts: [...]}}`), later files and
//! `-E` overrides win.

use metricpipe_collect::{Map, Value};

use crate::error::ConfigError;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn empty_map() -> Node {
        Node::Map(Vec::new())
    }

    /// Parse YAML text (a file, or the value of `-E key=value`).
    pub fn from_yaml(text: &str, origin: &str) -> Result<Node, ConfigError> {
        let value: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Yaml {
                origin: origin.to_string(),
                detail: e.to_string(),
            })?;
        Ok(Node::from_yaml_value(value))
    }

    fn from_yaml_value(v: serde_yaml_ng::Value) -> Node {
        use serde_yaml_ng::Value as Y;
        match v {
            Y::Null => Node::Null,
            Y::Bool(b) => Node::Bool(b),
            Y::Number(n) => match n.as_i64() {
                Some(i) => Node::Int(i),
                None => Node::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Y::String(s) => Node::Str(s),
            Y::Sequence(items) => {
                Node::List(items.into_iter().map(Node::from_yaml_value).collect())
            }
            Y::Mapping(m) => {
                let mut out = Node::empty_map();
                for (k, v) in m {
                    let key = match k {
                        Y::String(s) => s,
                        Y::Bool(b) => b.to_string(),
                        Y::Number(n) => n.to_string(),
                        other => format!("{other:?}"),
                    };
                    out.set_path(&key, Node::from_yaml_value(v), true);
                }
                out
            }
            Y::Tagged(t) => Node::from_yaml_value(t.value),
        }
    }

    /// Set a dotted path. With `merge`, maps merge into existing maps (file loading);
    /// without it the value replaces what was there (`-E`).
    pub fn set_path(&mut self, path: &str, value: Node, merge: bool) {
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        // `-E metricbeat.modules.0.period=5s` addresses a list element, as in go-ucfg.
        // An index past the end appends, as go-ucfg does (`-E m.1.period=5s` adds a module).
        if let (Node::List(items), Ok(index)) = (&mut *self, head.parse::<usize>()) {
            if index >= items.len() {
                items.resize(index + 1, Node::Null);
            }
            let item = &mut items[index];
            match rest {
                Some(rest) => item.set_path(rest, value, merge),
                None if merge => item.merge(value),
                None => *item = value,
            }
            return;
        }
        if matches!(self, Node::Null) && head.parse::<usize>().is_ok() {
            *self = Node::List(Vec::new());
            return self.set_path(path, value, merge);
        }
        let Node::Map(entries) = self else {
            *self = Node::empty_map();
            return self.set_path(path, value, merge);
        };
        let slot = match entries.iter().position(|(k, _)| k == head) {
            Some(i) => &mut entries[i].1,
            None => {
                entries.push((head.to_string(), Node::Null));
                let last = entries.len() - 1;
                &mut entries[last].1
            }
        };
        match rest {
            Some(rest) => {
                if !matches!(slot, Node::Map(_) | Node::List(_)) {
                    *slot = Node::Null;
                }
                slot.set_path(rest, value, merge);
            }
            None => {
                if merge {
                    slot.merge(value);
                } else {
                    *slot = value;
                }
            }
        }
    }

    /// Merge `other` in: maps key by key, anything else replaced.
    pub fn merge(&mut self, other: Node) {
        match (&mut *self, other) {
            (Node::Map(entries), Node::Map(theirs)) => {
                // Keys of a parsed map are already expanded; merge one level at a time.
                for (k, v) in theirs {
                    match entries.iter_mut().find(|(key, _)| *key == k) {
                        Some((_, slot)) => slot.merge(v),
                        None => entries.push((k, v)),
                    }
                }
            }
            (_, other) => *self = other,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Flatten a subtree back to dotted keys (librdkafka property names contain dots).
    pub fn flatten(&self, prefix: &str, out: &mut Vec<(String, Node)>) {
        let mut refs = Vec::new();
        self.flatten_ref(prefix, &mut refs);
        out.extend(refs.into_iter().map(|(k, v)| (k, v.clone())));
    }

    /// [`Node::flatten`] without copying the leaves.
    pub fn flatten_ref<'a>(&'a self, prefix: &str, out: &mut Vec<(String, &'a Node)>) {
        match self {
            Node::Map(entries) => {
                for (k, v) in entries {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    v.flatten_ref(&p, out);
                }
            }
            other => out.push((prefix.to_string(), other)),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) => "an integer",
            Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::List(_) => "a list",
            Node::Map(_) => "a map",
        }
    }

    /// Scalars as text, as go-ucfg converts them when a string is expected.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Node::Str(s) => Some(s.clone()),
            Node::Int(i) => Some(i.to_string()),
            Node::Float(f) => Some(f.to_string()),
            Node::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// `prefix.key`, or `key` at the top: the dotted name errors and warnings give a setting.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The tree as an event value (`fields`, `add_fields`, conditions' operands).
pub fn to_value(node: &Node) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_and_nested_keys_are_the_same() {
        let a = Node::from_yaml("output.kafka.hosts: [a]\noutput.kafka.topic: t\n", "a").unwrap();
        let b = Node::from_yaml("output:\n  kafka:\n    hosts: [a]\n    topic: t\n", "b").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn later_values_win_and_maps_merge() {
        let mut a = Node::from_yaml("output.kafka: {hosts: [a], topic: t}\n", "a").unwrap();
        a.merge(Node::from_yaml("output.kafka.topic: u\n", "b").unwrap());
        a.set_path(
            "output.kafka.hosts",
            Node::List(vec![Node::Str("b".into())]),
            false,
        );
        let kafka = a.get("output").unwrap().get("kafka").unwrap();
        assert_eq!(kafka.get("topic"), Some(&Node::Str("u".into())));
        assert_eq!(
            kafka.get("hosts"),
            Some(&Node::List(vec![Node::Str("b".into())]))
        );
    }

    #[test]
    fn list_elements_by_index_and_env_expansion() {
        let mut a = Node::from_yaml(
            "m: [{period: 10s}]\nh: '${METRICPIPE_TEST_UNSET:k:9092}'\np: '${path.config}/x'\n",
            "a",
        )
        .unwrap();
        a.set_path("m.0.period", Node::Str("5s".into()), false);
        assert_eq!(
            a.get("m"),
            Some(&Node::List(vec![Node::Map(vec![(
                "period".into(),
                Node::Str("5s".into())
            )])]))
        );
        a.expand_env("").unwrap();
        assert_eq!(a.get("h"), Some(&Node::Str("k:9092".into())));
        std::env::set_var("METRICPIPE_TEST_HOSTS", "a:1,b:2");
        let mut l = Node::from_yaml("h: ${METRICPIPE_TEST_HOSTS}\n", "l").unwrap();
        l.expand_env("").unwrap();
        assert_eq!(
            l.get("h"),
            Some(&Node::List(vec![
                Node::Str("a:1".into()),
                Node::Str("b:2".into())
            ]))
        );
        assert_eq!(a.get("p"), Some(&Node::Str("${path.config}/x".into())));
        let mut b = Node::from_yaml("x: {y: '${METRICPIPE_TEST_UNSET}'}\n", "b").unwrap();
        let err = b.expand_env("").unwrap_err().to_string();
        assert!(
            err.contains("x.y") && err.contains("METRICPIPE_TEST_UNSET"),
            "{err}"
        );
    }
}
