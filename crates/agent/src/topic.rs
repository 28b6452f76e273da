//! Metricbeat's format strings for `output.kafka.topic`: literal text and field references
//! `%{[metricset.name]}`, `%{[a][b]}`, with an optional default `%{[field]:fallback}`.

use metricpipe_collect::Map;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field {
        path: String,
        default: Option<String>,
    },
}

/// A parsed topic format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicFormat {
    parts: Vec<Part>,
}

impl TopicFormat {
    pub fn parse(format: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = format;
        while let Some(start) = rest.find("%{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("{format:?}: `%{{` is not closed by `}}`"))?;
            let inner = &after[..end];
            rest = &after[end + 1..];
            if inner.starts_with('+') {
                return Err(format!(
                    "{format:?}: timestamp formats (`%{{+...}}`) are not supported; use field references like %{{[metricset.name]}}"
                ));
            }
            let (fields, default) = match inner.find("]:") {
                Some(i) => (&inner[..=i], Some(inner[i + 2..].to_string())),
                None => (inner, None),
            };
            let path = fields
                .strip_prefix('[')
                .and_then(|f| f.strip_suffix(']'))
                .ok_or_else(|| format!("{format:?}: write field references as %{{[field.name]}}"))?
                .split("][")
                .collect::<Vec<_>>()
                .join(".");
            if path.is_empty() {
                return Err(format!("{format:?}: empty field reference"));
            }
            parts.push(Part::Field { path, default });
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        if parts.is_empty() {
            return Err("the topic is empty".into());
        }
        for part in &parts {
            if let Part::Text(text) = part {
                if let Some(bad) = text.chars().find(|c| !is_topic_char(*c)) {
                    return Err(format!(
                        "{format:?} has {bad:?}: Kafka topic names use only letters, digits, '.', '_' and '-'"
                    ));
                }
            }
        }
        if let [Part::Text(literal)] = parts.as_slice() {
            check_topic_name(literal)?;
        }
        Ok(TopicFormat { parts })
    }

    /// The topic for one event; `Err` names the missing field (the event is then dropped,
    /// as Metricbeat does).
    pub fn render(&self, event: &Map) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field { path, default } => match (event.get_path(path), default) {
                    (Some(v), _) => out.push_str(&v.to_plain_string()),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => {
                        return Err(format!("the event has no field `{path}` for the topic"))
                    }
                },
            }
        }
        check_topic_name(&out)?;
        Ok(out)
    }
}

fn is_topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Kafka's rule: 1 to 249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`.
fn check_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the topic is empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("{name:?} is not a legal Kafka topic name"));
    }
    if name.len() > 249 {
        return Err(format!(
            "the topic is {} characters long; Kafka allows 249",
            name.len()
        ));
    }
    if let Some(bad) = name.chars().find(|c| !is_topic_char(*c)) {
        return Err(format!(
            "topic {name:?} has {bad:?}: Kafka topic names use only letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let ev = Map::new().with("metricset", Map::new().with("name", "cpu"));
        let render = |f: &str| TopicFormat::parse(f).unwrap().render(&ev);
        assert_eq!(render("metric.all").unwrap(), "metric.all");
        assert_eq!(render("%{[metricset.name]}").unwrap(), "cpu");
        assert_eq!(render("metric.%{[metricset][name]}").unwrap(), "metric.cpu");
        assert_eq!(render("x-%{[nope]:fallback}").unwrap(), "x-fallback");
        assert!(render("%{[nope]}").unwrap_err().contains("nope"));
        assert!(TopicFormat::parse("%{+yyyy}").is_err());
        assert!(TopicFormat::parse("%{[a]").is_err());
        assert!(TopicFormat::parse("").is_err());
        assert!(TopicFormat::parse("metric all!")
            .unwrap_err()
            .contains("' '"));
        assert!(TopicFormat::parse("..").is_err());
        assert!(TopicFormat::parse(&"x".repeat(250)).is_err());
        assert!(TopicFormat::parse(&"x".repeat(249)).is_ok());
        let odd = Map::new().with("metricset", Map::new().with("name", "a b"));
        let err = TopicFormat::parse("m.%{[metricset.name]}")
            .unwrap()
            .render(&odd)
            .unwrap_err();
        assert!(err.contains("a b"), "{err}");
    }
}
