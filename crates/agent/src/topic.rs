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
        if out.is_empty() {
            return Err("the topic rendered empty".into());
        }
        Ok(out)
    }
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
    }
}
