//! Field extraction: one validating pass of [`Scan`](crate::scan::Scan) that looks only at
//! the fields the topology reads and skips everything else without decoding it.

use std::borrow::Cow;
use std::ops::Range;

use crate::scan::{key_is, Scan, SyntaxError};
use metricpipe_streams::Reason;
use metricpipe_telemetry::BadRecordReason;

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

const TOP_FIELDS: [&str; 4] = ["metricset", "@timestamp", "host", "system"];

const NO_PCT: CpuPct = CpuPct::Unalertable("no system.cpu.total.norm.pct");
const MISTYPED_PCT: CpuPct =
    CpuPct::Unalertable("system.cpu.total.norm.pct under a mistyped parent");

fn not_json(e: SyntaxError) -> Reason {
    Reason::new(
        BadRecordReason::NotJson,
        format!("{} at byte {}", e.what, e.at),
    )
}

/// Extracts [`MetricFields`] from a Metricbeat event. `Err` only when the record cannot be
/// routed at all: not UTF-8, not JSON, not an object, or no string `metricset.name`.
/// A key given twice counts with its last value, as gson's `JsonObject` does.
pub fn extract(value: &[u8]) -> Result<MetricFields, Reason> {
    std::str::from_utf8(value).map_err(|e| Reason::new(BadRecordReason::NotUtf8, e.to_string()))?;
    let mut sc = Scan::new(value);
    sc.ws();
    if sc.peek() != Some(b'{') {
        sc.skip_value().map_err(not_json)?;
        return trailing(&mut sc).and(Err(Reason::new(
            "mistyped-field",
            "the record is JSON but not an object",
        )));
    }
    let mut name: Option<Cow<'_, str>> = None;
    let mut mistyped: Option<&'static str> = None;
    let mut cpu_pct = NO_PCT;
    let mut host = None;
    let mut timestamp = None;
    sc.object(|sc, key, escaped| {
        let field = if escaped {
            TOP_FIELDS
                .iter()
                .find(|f| key_is(key, true, f))
                .map_or(&b""[..], |f| f.as_bytes())
        } else {
            key
        };
        if field == b"metricset" {
            name = None;
            mistyped = None;
            match sc.peek() {
                Some(b'{') => sc.object(|sc, key, escaped| {
                    if !key_is(key, escaped, "name") {
                        return sc.skip_value();
                    }
                    match sc.peek() {
                        Some(b'"') => {
                            name = Some(sc.string_text()?);
                            return Ok(());
                        }
                        Some(b'n') => name = None,
                        _ => mistyped = Some("metricset.name is not a string"),
                    }
                    sc.skip_value()
                }),
                Some(b'n') => sc.skip_value(),
                _ => {
                    mistyped = Some("metricset is not an object");
                    sc.skip_value()
                }
            }
        } else if field == b"@timestamp" {
            timestamp = Some(sc.value_span()?);
            Ok(())
        } else if field == b"host" {
            let span = sc.value_span()?;
            host = (&value[span.clone()] != b"null").then_some(span);
            Ok(())
        } else if field == b"system" {
            cpu_pct = pct_at(sc, &["cpu", "total", "norm", "pct"])?;
            Ok(())
        } else {
            sc.skip_value()
        }
    })
    .map_err(not_json)?;
    trailing(&mut sc)?;
    if let Some(why) = mistyped {
        return Err(Reason::new(BadRecordReason::MistypedField, why));
    }
    let name =
        name.ok_or_else(|| Reason::new(BadRecordReason::MissingField, "no metricset.name"))?;
    let kind = match name.as_ref() {
        "cpu" => Kind::Cpu,
        "memory" => Kind::Memory,
        _ => Kind::Other,
    };
    Ok(MetricFields {
        kind,
        cpu_pct,
        host,
        timestamp,
    })
}

fn trailing(sc: &mut Scan<'_>) -> Result<(), Reason> {
    sc.ws();
    if sc.at_end() {
        Ok(())
    } else {
        Err(not_json(SyntaxError {
            at: sc.i,
            what: "trailing characters",
        }))
    }
}

/// Follows `path` down from the value at the cursor (consuming it) to the percentage.
fn pct_at(sc: &mut Scan<'_>, path: &[&str]) -> Result<CpuPct, SyntaxError> {
    let Some((first, rest)) = path.split_first() else {
        let span = sc.value_span()?;
        let raw = std::str::from_utf8(&sc.bytes()[span]).unwrap_or("");
        return Ok(number(raw));
    };
    match sc.peek() {
        Some(b'{') => {
            let mut found = NO_PCT;
            sc.object(|sc, key, escaped| {
                if key_is(key, escaped, first) {
                    found = pct_at(sc, rest)?;
                    Ok(())
                } else {
                    sc.skip_value()
                }
            })?;
            Ok(found)
        }
        Some(b'n') => {
            sc.skip_value()?;
            Ok(NO_PCT)
        }
        _ => {
            sc.skip_value()?;
            Ok(MISTYPED_PCT)
        }
    }
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
