//! The value grammar of `-E key=value`, as Metricbeat parses it (go-ucfg's `parse` package,
//! `DefaultConfig`): not YAML, but a small superset of JSON.
//!
//! - Top-level values separated by `,` build a list: `-E tags=a,b` is `["a", "b"]`.
//! - `[a, b]` is a list, `{k: v, ...}` a map (an empty one of either is null).
//! - `'single'` quotes keep everything verbatim; `"double"` quotes unescape (`\"`, `\n`, ...).
//! - Unquoted text stops only at the grammar's separators (`,` at top level, `,]` in a list,
//!   `:` in a key, `,}` in a value) and is trimmed, so `a: b` and `%{[metricset.name]}` are
//!   plain strings.
//! - An unquoted scalar is `null`, then a boolean (`true/True/TRUE/t/T/on/ON` and the false
//!   forms), then an unsigned integer, a signed integer (Go's `strconv` base-0 syntax: `0x1f`,
//!   `0o17`, `017`, `0b11`), a float, else a string.
//! - `-E key` without `=` sets `key` to `true`; `-E key=` sets it to null.

use super::tree::Node;

/// Split one `-E` argument into its dotted key and its parsed value.
pub fn parse_override(arg: &str) -> Result<(String, Node), String> {
    match arg.split_once('=') {
        None if arg.trim().is_empty() => Err("the argument is empty".into()),
        None => Ok((arg.to_string(), Node::Bool(true))),
        Some((key, _)) if key.trim().is_empty() => Err("the key before `=` is empty".into()),
        Some((key, value)) => Ok((key.to_string(), parse_value(value)?)),
    }
}

/// Parse a value with go-ucfg's flag grammar. Errors say what was expected and where.
pub fn parse_value(text: &str) -> Result<Node, String> {
    parse_top(text).map_err(|e| format!("{e} when parsing {text:?}"))
}

fn parse_top(text: &str) -> Result<Node, String> {
    let mut p = Parser { input: text.trim() };
    let mut values = Vec::new();
    loop {
        values.push(p.value(",")?);
        p.skip_ws();
        if p.input.is_empty() {
            break;
        }
        p.expect(',')?;
    }
    Ok(match values.len() {
        1 => values.pop().unwrap_or(Node::Null),
        _ => Node::List(values),
    })
}

struct Parser<'a> {
    input: &'a str,
}

impl<'a> Parser<'a> {
    fn skip_ws(&mut self) {
        self.input = self.input.trim_start();
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.input.strip_prefix(c) {
            Some(rest) => {
                self.input = rest;
                Ok(())
            }
            None => Err(format!("expected '{c}'")),
        }
    }

    fn value(&mut self, stop: &str) -> Result<Node, String> {
        self.skip_ws();
        match self.input.chars().next() {
            None => Ok(Node::Null),
            Some('[') => self.list(),
            Some('{') => self.map(),
            Some('"') => self.double_quoted().map(Node::Str),
            Some('\'') => self.single_quoted().map(Node::Str),
            Some(_) => self.primitive(stop),
        }
    }

    fn list(&mut self) -> Result<Node, String> {
        self.input = &self.input[1..];
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.input.is_empty() {
                return Err("array closing ']' missing".into());
            }
            if let Some(rest) = self.input.strip_prefix(']') {
                self.input = rest;
                break;
            }
            items.push(self.value(",]")?);
            self.skip_ws();
            let mut chars = self.input.chars();
            match chars.next() {
                None => return Err("array closing ']' missing".into()),
                Some(']') => {
                    self.input = chars.as_str();
                    break;
                }
                Some(',') => self.input = chars.as_str(),
                Some(_) => return Err("array expected ',' or ']'".into()),
            }
        }
        Ok(if items.is_empty() {
            Node::Null
        } else {
            Node::List(items)
        })
    }

    fn map(&mut self) -> Result<Node, String> {
        self.input = &self.input[1..];
        let mut out = Node::empty_map();
        let mut any = false;
        loop {
            self.skip_ws();
            if self.input.is_empty() {
                return Err("dictionary closing '}' missing".into());
            }
            if let Some(rest) = self.input.strip_prefix('}') {
                self.input = rest;
                break;
            }
            let key = self.key()?;
            self.skip_ws();
            self.expect(':')?;
            let value = self.value(",}")?;
            // go-ucfg reads the separator right after the value, without skipping spaces.
            let mut chars = self.input.chars();
            let next = chars.next();
            out.set_path(&key, value, false);
            any = true;
            match next {
                Some('}') => {
                    self.input = chars.as_str();
                    break;
                }
                Some(',') => self.input = chars.as_str(),
                _ => return Err("dictionary expected ',' or '}'".into()),
            }
        }
        Ok(if any { out } else { Node::Null })
    }

    fn key(&mut self) -> Result<String, String> {
        match self.input.chars().next() {
            None => Err("expected key".into()),
            Some('"') => self.double_quoted(),
            Some('\'') => self.single_quoted(),
            Some(_) => self.unquoted(":"),
        }
    }

    fn single_quoted(&mut self) -> Result<String, String> {
        let body = &self.input[1..];
        let end = body.find('\'').ok_or("missing ' to close string")?;
        self.input = &body[end + 1..];
        Ok(body[..end].to_string())
    }

    fn double_quoted(&mut self) -> Result<String, String> {
        let body = &self.input[1..];
        let bytes = body.as_bytes();
        let mut i = 0;
        let end = loop {
            match body[i..].find('"') {
                None => return Err("missing \" to close string".into()),
                Some(j) if i + j > 0 && bytes[i + j - 1] == b'\\' => i += j + 1,
                Some(j) => break i + j,
            }
        };
        self.input = &body[end + 1..];
        unescape(&body[..end])
    }

    fn unquoted(&mut self, stop: &str) -> Result<String, String> {
        let idx = self.input.find(|c| stop.contains(c));
        let (content, rest) = match idx {
            Some(0) => {
                let c = self.input.chars().next().unwrap_or(' ');
                return Err(format!("unexpected '{c}'"));
            }
            Some(i) => (&self.input[..i], &self.input[i..]),
            None => (self.input, ""),
        };
        self.input = rest;
        Ok(content.trim().to_string())
    }

    fn primitive(&mut self, stop: &str) -> Result<Node, String> {
        Ok(scalar(&self.unquoted(stop)?))
    }
}

/// Type an unquoted scalar as go-ucfg does.
fn scalar(s: &str) -> Node {
    if s == "null" {
        return Node::Null;
    }
    match s {
        "t" | "T" | "true" | "TRUE" | "True" | "on" | "ON" => return Node::Bool(true),
        "f" | "F" | "false" | "FALSE" | "False" | "off" | "OFF" => return Node::Bool(false),
        _ => {}
    }
    if let Some(n) = go_int(s) {
        return match i64::try_from(n) {
            Ok(i) => Node::Int(i),
            // Above i64::MAX: go-ucfg keeps a uint64; we keep the (rounded) number.
            Err(_) => Node::Float(n as f64),
        };
    }
    if looks_like_float(s) {
        if let Ok(f) = s.parse::<f64>() {
            return Node::Float(f);
        }
    }
    Node::Str(s.to_string())
}

/// Go's `strconv.ParseInt(s, 0, 64)` with the sign folded in; `None` when not an integer.
fn go_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    // Go allows underscores between digits only with a base prefix.
    if digits.is_empty() || (!prefixed && digits.contains('_')) {
        return None;
    }
    if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let n = i128::from_str_radix(&digits.replace('_', ""), radix).ok()?;
    let n = if neg { -n } else { n };
    (i128::from(i64::MIN)..=i128::from(u64::MAX))
        .contains(&n)
        .then_some(n)
}

/// Rust's float syntax is wider than needed in one way only: it also takes the words
/// `inf`/`infinity`/`nan`, which Go's ParseFloat takes too, so only reject stray letters.
fn looks_like_float(s: &str) -> bool {
    let t = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
    matches!(t.as_str(), "inf" | "infinity" | "nan")
        || t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
}

/// Go's `strconv.Unquote` escapes for a double-quoted string's body.
fn unescape(body: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().ok_or("a string ends in a lone backslash")?;
        let hex = |chars: &mut std::str::Chars, n: usize| -> Result<u32, String> {
            let digits: String = chars.by_ref().take(n).collect();
            u32::from_str_radix(&digits, 16)
                .ok()
                .filter(|_| digits.len() == n)
                .ok_or_else(|| format!("invalid escape \\{e}{digits}"))
        };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '\\' | '"' | '\'' => out.push(e),
            'x' => out.push(char::from_u32(hex(&mut chars, 2)?).ok_or("invalid \\x escape")?),
            'u' => out.push(char::from_u32(hex(&mut chars, 4)?).ok_or("invalid \\u escape")?),
            'U' => out.push(char::from_u32(hex(&mut chars, 8)?).ok_or("invalid \\U escape")?),
            other => {
                return Err(format!(
                    "invalid escape \\{other} in a double-quoted string"
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "flag_tests.rs"]
mod tests;
