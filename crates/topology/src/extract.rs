//! Field extraction: one pass of serde_json over borrowed structs that name only the
//! fields the topology reads; everything else is skipped unparsed (`IgnoredAny`).

use std::borrow::Cow;
use std::ops::Range;

use metricpipe_streams::Reason;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

/// What `metricset.name` says the record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Cpu,
    Memory,
    /// Any other metricset: dropped, as the Java app's `noDefaultBranch()` does.
    Other,
}

/// `system.cpu.total.norm.pct` of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum CpuPct {
    /// A JSON number, whatever its spelling (`0.51`, `5.1e-1`, `1`; `1e400` is infinity).
    Number(f64),
    /// Missing, `null`, a string such as `"0.9"`, or under a mistyped parent.
    Unalertable(&'static str),
}

/// The fields the metric topology reads, as spans into the source value.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFields {
    pub kind: Kind,
    pub cpu_pct: CpuPct,
    /// The raw `host` value, when it is present and not `null`.
    pub host: Option<Range<usize>>,
    /// The raw `@timestamp` value, when present.
    pub timestamp: Option<Range<usize>>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    metricset: Option<Metricset<'a>>,
    #[serde(rename = "@timestamp", borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    host: Option<&'a RawValue>,
    #[serde(borrow)]
    system: Option<System<'a>>,
}

/// The same event with `system` unread: the fallback when `system` is mistyped, because
/// routing depends on `metricset.name` alone.
#[derive(Deserialize)]
struct LooseEvent<'a> {
    #[serde(borrow)]
    metricset: Option<Metricset<'a>>,
    #[serde(rename = "@timestamp", borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    host: Option<&'a RawValue>,
    #[allow(dead_code)]
    system: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Metricset<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct System<'a> {
    #[serde(borrow)]
    cpu: Option<Cpu<'a>>,
}

#[derive(Deserialize)]
struct Cpu<'a> {
    #[serde(borrow)]
    total: Option<Total<'a>>,
}

#[derive(Deserialize)]
struct Total<'a> {
    #[serde(borrow)]
    norm: Option<Norm<'a>>,
}

#[derive(Deserialize)]
struct Norm<'a> {
    #[serde(borrow)]
    pct: Option<&'a RawValue>,
}

fn span(input: &str, raw: &RawValue) -> Range<usize> {
    let start = raw.get().as_ptr() as usize - input.as_ptr() as usize;
    start..start + raw.get().len()
}

fn json_error(e: serde_json::Error) -> Reason {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => Reason::new("mistyped-field", e.to_string()),
        Category::Syntax | Category::Eof | Category::Io => Reason::new("not-json", e.to_string()),
    }
}

/// Extracts [`MetricFields`] from a Metricbeat event. `Err` only when the record cannot be
/// routed at all: not UTF-8, not JSON, not an object, or no string `metricset.name`.
pub fn extract(value: &[u8]) -> Result<MetricFields, Reason> {
    let text = std::str::from_utf8(value).map_err(|e| Reason::new("not-utf8", e.to_string()))?;
    let (metricset, timestamp, host, cpu_pct) = match serde_json::from_str::<Event<'_>>(text) {
        Ok(ev) => {
            let pct = ev
                .system
                .and_then(|s| s.cpu)
                .and_then(|c| c.total)
                .and_then(|t| t.norm)
                .and_then(|n| n.pct);
            let pct = match pct {
                Some(raw) => number(raw.get()),
                None => CpuPct::Unalertable("no system.cpu.total.norm.pct"),
            };
            (ev.metricset, ev.timestamp, ev.host, pct)
        }
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            let ev = serde_json::from_str::<LooseEvent<'_>>(text).map_err(json_error)?;
            let pct = CpuPct::Unalertable("system.cpu.total.norm.pct under a mistyped parent");
            (ev.metricset, ev.timestamp, ev.host, pct)
        }
        Err(e) => return Err(json_error(e)),
    };
    let name = metricset
        .and_then(|m| m.name)
        .ok_or_else(|| Reason::new("missing-field", "no metricset.name"))?;
    let kind = match name.as_ref() {
        "cpu" => Kind::Cpu,
        "memory" => Kind::Memory,
        _ => Kind::Other,
    };
    Ok(MetricFields {
        kind,
        cpu_pct,
        host: host.map(|h| span(text, h)),
        timestamp: timestamp.map(|t| span(text, t)),
    })
}

fn number(raw: &str) -> CpuPct {
    match raw.as_bytes().first() {
        Some(b'-' | b'0'..=b'9') => match raw.parse::<f64>() {
            Ok(v) => CpuPct::Number(v),
            Err(_) => CpuPct::Unalertable("system.cpu.total.norm.pct is not a number"),
        },
        _ => CpuPct::Unalertable("system.cpu.total.norm.pct is not a number"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_any_spelling() {
        assert_eq!(number("0.51"), CpuPct::Number(0.51));
        assert_eq!(number("5.1e-1"), CpuPct::Number(0.51));
        assert_eq!(number("1"), CpuPct::Number(1.0));
        assert_eq!(number("1e400"), CpuPct::Number(f64::INFINITY));
        assert!(matches!(number("\"0.9\""), CpuPct::Unalertable(_)));
        assert!(matches!(number("null"), CpuPct::Unalertable(_)));
    }

    #[test]
    fn spans_point_into_the_input() {
        let input = br#"{"metricset":{"name":"cpu"},"host":{"name":"a"},"@timestamp":"t"}"#;
        let f = extract(input).unwrap();
        assert_eq!(f.kind, Kind::Cpu);
        assert_eq!(&input[f.host.unwrap()], br#"{"name":"a"}"#);
        assert_eq!(&input[f.timestamp.unwrap()], br#""t""#);
    }

    #[test]
    fn mistyped_system_still_routes() {
        let f = extract(br#"{"metricset":{"name":"cpu"},"system":{"cpu":"x"}}"#).unwrap();
        assert_eq!(f.kind, Kind::Cpu);
        assert!(matches!(f.cpu_pct, CpuPct::Unalertable(_)));
    }

    #[test]
    fn unroutable_records_are_reasons() {
        assert_eq!(extract(b"\xff\xfe").unwrap_err().code, "not-utf8");
        assert_eq!(extract(b"{\"a\":").unwrap_err().code, "not-json");
        assert_eq!(extract(b"[1]").unwrap_err().code, "mistyped-field");
        assert_eq!(extract(b"{}").unwrap_err().code, "missing-field");
        assert_eq!(
            extract(br#"{"metricset":{"name":5}}"#).unwrap_err().code,
            "mistyped-field"
        );
    }
}
