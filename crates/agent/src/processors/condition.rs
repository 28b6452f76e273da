//! libbeat's `when` conditions: equals, contains, regexp, range, has_fields, network, and,
//! or, not.
//! Fields are dotted paths into the event.

use metricpipe_collect::{Map, Value};

use super::network::{value_in, Net};
use crate::beatconf::tree::Node;

/// One parsed condition.
#[derive(Debug, Clone)]
pub enum Condition {
    Equals(Vec<(String, Value)>),
    Contains(Vec<(String, String)>),
    Regexp(Vec<(String, regex::Regex)>),
    Range(Vec<(String, Bounds)>),
    HasFields(Vec<String>),
    Network(Vec<(String, Vec<Net>)>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Bounds {
    gt: Option<f64>,
    gte: Option<f64>,
    lt: Option<f64>,
    lte: Option<f64>,
}

fn fields<'a>(key: &str, node: &'a Node) -> Result<Vec<(String, &'a Node)>, String> {
    let mut out = Vec::new();
    node.flatten_ref("", &mut out);
    if out.is_empty() {
        return Err(format!("`{key}` needs at least one field"));
    }
    Ok(out)
}

impl Condition {
    /// Parse the map under `when` (`key` names it in errors).
    pub fn parse(key: &str, node: &Node) -> Result<Condition, String> {
        let Node::Map(entries) = node else {
            return Err(format!(
                "`{key}` must be a map such as {{equals: {{field: value}}}}"
            ));
        };
        let mut all = Vec::new();
        for (name, v) in entries {
            let k = format!("{key}.{name}");
            all.push(match name.as_str() {
                "equals" => Condition::Equals(
                    fields(&k, v)?
                        .into_iter()
                        .map(|(f, n)| (f, crate::beatconf::tree::to_value(n)))
                        .collect(),
                ),
                "contains" => Condition::Contains(
                    fields(&k, v)?
                        .into_iter()
                        .map(|(f, n)| Ok((f, n.as_text().ok_or(format!("`{k}` takes strings"))?)))
                        .collect::<Result<_, String>>()?,
                ),
                "regexp" => Condition::Regexp(
                    fields(&k, v)?
                        .into_iter()
                        .map(|(f, n)| {
                            let text = n.as_text().ok_or(format!("`{k}` takes patterns"))?;
                            let re = regex::Regex::new(&text)
                                .map_err(|e| format!("`{k}.{f}`: {e}"))?;
                            Ok((f, re))
                        })
                        .collect::<Result<_, String>>()?,
                ),
                "range" => Condition::Range(range(&k, v)?),
                "network" => Condition::Network(network(&k, v)?),
                "has_fields" => Condition::HasFields(match v {
                    Node::List(items) => items.iter().filter_map(Node::as_text).collect(),
                    other => other.as_text().into_iter().collect(),
                }),
                "and" | "or" => {
                    let Node::List(items) = v else {
                        return Err(format!("`{k}` takes a list of conditions"));
                    };
                    let parts = items
                        .iter()
                        .enumerate()
                        .map(|(i, c)| Condition::parse(&format!("{k}.{i}"), c))
                        .collect::<Result<Vec<_>, _>>()?;
                    if name == "and" {
                        Condition::And(parts)
                    } else {
                        Condition::Or(parts)
                    }
                }
                "not" => Condition::Not(Box::new(Condition::parse(&k, v)?)),
                other => {
                    return Err(format!(
                        "`{k}`: the condition {other:?} is not supported; use equals, contains, regexp, range, has_fields, network, and, or, not"
                    ))
                }
            });
        }
        Ok(match all.len() {
            1 => all.remove(0),
            _ => Condition::And(all),
        })
    }

    /// Whether `event` matches.
    pub fn matches(&self, event: &Map) -> bool {
        match self {
            Condition::Equals(pairs) => pairs
                .iter()
                .all(|(f, want)| event.get_path(f).is_some_and(|v| equal(v, want))),
            Condition::Contains(pairs) => pairs.iter().all(|(f, part)| match event.get_path(f) {
                Some(Value::Str(s)) => s.contains(part.as_str()),
                Some(Value::Array(items)) => items
                    .iter()
                    .any(|i| matches!(i, Value::Str(s) if s.contains(part.as_str()))),
                _ => false,
            }),
            Condition::Regexp(pairs) => pairs.iter().all(|(f, re)| match event.get_path(f) {
                Some(Value::Str(s)) => re.is_match(s),
                Some(Value::Array(items)) => items
                    .iter()
                    .any(|i| matches!(i, Value::Str(s) if re.is_match(s))),
                _ => false,
            }),
            Condition::Range(pairs) => pairs.iter().all(|(f, b)| {
                number(event.get_path(f)).is_some_and(|x| {
                    !matches!(b.gt, Some(v) if x <= v)
                        && !matches!(b.gte, Some(v) if x < v)
                        && !matches!(b.lt, Some(v) if x >= v)
                        && !matches!(b.lte, Some(v) if x > v)
                })
            }),
            Condition::HasFields(names) => names.iter().all(|f| event.get_path(f).is_some()),
            Condition::Network(fields) => fields
                .iter()
                .all(|(f, nets)| value_in(event.get_path(f), nets)),
            Condition::And(parts) => parts.iter().all(|c| c.matches(event)),
            Condition::Or(parts) => parts.iter().any(|c| c.matches(event)),
            Condition::Not(c) => !c.matches(event),
        }
    }
}

/// `network: {field: NET}` or `{field: [NET, ...]}`.
fn network(key: &str, node: &Node) -> Result<Vec<(String, Vec<Net>)>, String> {
    fields(key, node)?
        .into_iter()
        .map(|(field, n)| {
            let texts: Vec<String> = match n {
                Node::List(items) => items.iter().filter_map(Node::as_text).collect(),
                other => other.as_text().into_iter().collect(),
            };
            if texts.is_empty() {
                return Err(format!("`{key}.{field}` takes a network or a list of them"));
            }
            let nets = texts
                .iter()
                .map(|t| Net::parse(t).map_err(|e| format!("`{key}.{field}`: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((field, nets))
        })
        .collect()
}

/// `range: {field.gte: 1, other.lt: 2}` or `range: {field: {gte: 1}}`.
fn range(key: &str, node: &Node) -> Result<Vec<(String, Bounds)>, String> {
    let mut out: Vec<(String, Bounds)> = Vec::new();
    for (path, n) in fields(key, node)? {
        let (field, op) = path.rsplit_once('.').ok_or(format!(
            "`{key}.{path}`: write field.gte, field.gt, field.lt or field.lte"
        ))?;
        let v = match n {
            Node::Int(i) => *i as f64,
            Node::Float(f) => *f,
            _ => return Err(format!("`{key}.{path}` takes a number")),
        };
        let slot = match out.iter().position(|(f, _)| f == field) {
            Some(i) => &mut out[i].1,
            None => {
                out.push((field.to_string(), Bounds::default()));
                &mut out.last_mut().expect("just pushed").1
            }
        };
        match op {
            "gt" => slot.gt = Some(v),
            "gte" => slot.gte = Some(v),
            "lt" => slot.lt = Some(v),
            "lte" => slot.lte = Some(v),
            other => {
                return Err(format!(
                    "`{key}.{path}`: {other:?} is not gt, gte, lt or lte"
                ))
            }
        }
    }
    Ok(out)
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        Value::Float(f) => Some(*f),
        Value::Str(s) => s.parse().ok(),
        _ => None,
    }
}

/// libbeat's equals: numbers by value, strings exactly, booleans exactly.
fn equal(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Str(a), Value::Str(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Str(_), _) | (_, Value::Str(_)) => false,
        (a, b) => number(Some(a))
            .zip(number(Some(b)))
            .is_some_and(|(x, y)| x == y),
    }
}
