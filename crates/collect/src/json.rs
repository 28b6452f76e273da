//! An ordered JSON tree and a writer that prints numbers the way Metricbeat's Go encoder does.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// A JSON value. Integers and floats stay apart so bytes print as integers and
/// percentages as Go-formatted floats.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Array(Vec<Value>),
    Object(Map),
}

impl Value {
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// Text for a format string such as a Kafka topic: strings as is, numbers as Go prints them.
    pub fn to_plain_string(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            other => {
                let mut out = String::new();
                other.write_json(&mut out);
                out
            }
        }
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::UInt(u) => {
                let _ = write!(out, "{u}");
            }
            Value::Float(f) => out.push_str(&format_go_float(*f)),
            Value::Str(s) => write_str(s, out),
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_json(out);
                }
                out.push(']');
            }
            Value::Object(m) => m.write_json(out),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<u64> for Value {
    fn from(u: u64) -> Self {
        Value::UInt(u)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Object(m)
    }
}

/// A JSON object that keeps insertion order (so `@timestamp` and `@metadata` come first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map(Vec<(String, Value)>);

impl Map {
    pub fn new() -> Self {
        Map(Vec::new())
    }

    /// Set `key`, replacing an existing value in place.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Builder form of [`Map::insert`].
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at a dotted path such as `metricset.name`.
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        let mut parts = path.split('.');
        let mut cur = self.get(parts.next()?)?;
        for part in parts {
            cur = cur.as_object()?.get(part)?;
        }
        Some(cur)
    }

    /// Remove `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    /// Set the value at a dotted path, creating objects on the way (a non-object in the way
    /// is replaced), as libbeat's `PutValue` does.
    pub fn put_path(&mut self, path: &str, value: Value) {
        match path.split_once('.') {
            None => self.insert(path, value),
            Some((head, rest)) => {
                if !matches!(self.get(head), Some(Value::Object(_))) {
                    self.insert(head, Value::Object(Map::new()));
                }
                if let Some(Value::Object(child)) = self.get_mut(head) {
                    child.put_path(rest, value);
                }
            }
        }
    }

    /// Remove the value at a dotted path; `None` when it is not there.
    pub fn remove_path(&mut self, path: &str) -> Option<Value> {
        match path.split_once('.') {
            None => self.remove(path),
            Some((head, rest)) => match self.get_mut(head) {
                Some(Value::Object(child)) => child.remove_path(rest),
                _ => None,
            },
        }
    }

    /// Merge `other` into `self`; objects merge recursively. With `overwrite` false existing
    /// leaves win (libbeat's builtin fields), with true `other` wins (`fields_under_root`).
    pub fn deep_merge(&mut self, other: &Map, overwrite: bool) {
        for (key, value) in other.iter() {
            match (self.get_mut(key), value) {
                (Some(Value::Object(mine)), Value::Object(theirs)) => {
                    mine.deep_merge(theirs, overwrite)
                }
                (Some(slot), _) => {
                    if overwrite {
                        *slot = value.clone();
                    }
                }
                (None, _) => self.0.push((key.to_string(), value.clone())),
            }
        }
    }

    /// Dotted paths of every leaf (arrays count as leaves), for field-compatibility checks.
    pub fn leaf_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_paths("", &mut out);
        out
    }

    fn collect_paths(&self, prefix: &str, out: &mut Vec<String>) {
        for (key, value) in self.iter() {
            let path = if prefix.is_empty() {
                key.to_string()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                Value::Object(m) if !m.is_empty() => m.collect_paths(&path, out),
                _ => out.push(path),
            }
        }
    }

    /// Compact JSON, as Metricbeat's codec writes it: no spaces, no trailing newline.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(1024);
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(k, out);
            out.push(':');
            v.write_json(out);
        }
        out.push('}');
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`: shortest round-trip digits, exponent form
/// when the decimal exponent is < -4 or >= 6 (`1e-05`, `1e+06`), `0` for zero.
/// NaN and infinities print as `null`, as Metricbeat's encoder does.
pub fn format_go_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Go: "d.ddde-x".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = exp as usize + 1;
        if digits.len() <= point {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` in UTC with milliseconds truncated, as Metricbeat writes
/// `@timestamp`.
pub fn format_timestamp(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let millis = since.subsec_millis();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn go_float_formatting() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (10.0, "10"),
            (0.0457, "0.0457"),
            (22.9021, "22.9021"),
            (0.0001, "0.0001"),
            (-0.0001, "-0.0001"),
            (0.00001, "1e-05"),
            (1e6, "1e+06"),
            (123456.5, "123456.5"),
            (1234567.0, "1.234567e+06"),
            (1e21, "1e+21"),
            (f64::NAN, "null"),
        ];
        for (f, want) in cases {
            assert_eq!(format_go_float(f), want, "{f}");
        }
    }

    #[test]
    fn timestamps_truncate_milliseconds() {
        let t = UNIX_EPOCH + Duration::new(1_738_310_126, 555_999_999);
        assert_eq!(format_timestamp(t), "2025-01-31T07:55:26.555Z");
        assert_eq!(format_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(format_timestamp(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn map_keeps_order_and_merges() {
        let mut a = Map::new()
            .with("b", 1u64)
            .with("a", Map::new().with("x", "1"));
        a.deep_merge(
            &Map::new().with("a", Map::new().with("x", "2").with("y", "3")),
            false,
        );
        assert_eq!(a.to_json(), r#"{"b":1,"a":{"x":"1","y":"3"}}"#);
        a.deep_merge(&Map::new().with("a", Map::new().with("x", "2")), true);
        assert_eq!(a.get_path("a.x"), Some(&Value::from("2")));
        assert_eq!(a.leaf_paths(), vec!["b", "a.x", "a.y"]);
    }

    #[test]
    fn strings_are_escaped_but_not_html() {
        let m = Map::new().with("s", "a\"b\\c\n<&>\u{1}");
        assert_eq!(m.to_json(), r#"{"s":"a\"b\\c\n<&>\u0001"}"#);
    }
}
