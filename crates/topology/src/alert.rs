//! The alert value, byte-for-byte what the reference Java app writes.
//!
//! The Java app takes the event's `host` object as a gson `JsonObject`, adds
//! `"timestamp": <@timestamp>` and prints it with `JsonObject.toString()`. So the alert is:
//! - compact (no whitespace between tokens);
//! - numbers exactly as written in the input (gson keeps the literal text);
//! - strings re-escaped the gson way: `\"`, `\\`, `\t`, `\b`, `\n`, `\r`, `\f`, other control
//!   characters as lowercase `\u00xx`, U+2028/U+2029 as `\u2028`/`\u2029`, everything else
//!   (including `/` and non-ASCII) raw. A lone surrogate becomes `?`, as Java's UTF-8 encoder
//!   writes it;
//! - members in input order; a `timestamp` member already in `host` keeps its place and
//!   gets the new value (gson's `add` replaces in place); otherwise `timestamp` comes last;
//! - a missing `@timestamp` gives `"timestamp":null`.
//!
//! The input is JSON that serde_json has already validated, so this is a plain walk.

/// Writes the alert for `host` (the raw text of a JSON object) and `timestamp` (the raw
/// text of any JSON value, or `None`) to `out`.
pub fn write_alert(host: &[u8], timestamp: Option<&[u8]>, out: &mut Vec<u8>) {
    let mut ts = Vec::with_capacity(32);
    match timestamp {
        Some(raw) => Walker::new(raw).value(&mut ts),
        None => ts.extend_from_slice(b"null"),
    }
    Walker::new(host).host_object(&ts, out);
}

struct Walker<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Walker<'a> {
    fn new(s: &'a [u8]) -> Self {
        Walker { s, i: 0 }
    }

    fn peek(&self) -> u8 {
        self.s.get(self.i).copied().unwrap_or(0)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn value(&mut self, out: &mut Vec<u8>) {
        self.skip_ws();
        match self.peek() {
            b'{' => self.object(out),
            b'[' => self.array(out),
            b'"' => {
                let mut decoded = Vec::new();
                self.string(&mut decoded);
                write_gson_string(&decoded, out);
            }
            0 => {}
            _ => {
                let start = self.i;
                while !matches!(
                    self.peek(),
                    0 | b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                ) {
                    self.i += 1;
                }
                out.extend_from_slice(&self.s[start..self.i]);
            }
        }
    }

    fn array(&mut self, out: &mut Vec<u8>) {
        self.i += 1;
        out.push(b'[');
        let mut first = true;
        loop {
            self.skip_ws();
            match self.peek() {
                b']' => {
                    self.i += 1;
                    break;
                }
                0 => break,
                b',' => {
                    self.i += 1;
                    continue;
                }
                _ => {}
            }
            if !first {
                out.push(b',');
            }
            first = false;
            self.value(out);
        }
        out.push(b']');
    }

    fn object(&mut self, out: &mut Vec<u8>) {
        self.members(None, out);
    }

    fn host_object(&mut self, timestamp: &[u8], out: &mut Vec<u8>) {
        self.skip_ws();
        if self.peek() != b'{' {
            return;
        }
        self.members(Some(timestamp), out);
    }

    /// Walks `{...}`; with `timestamp`, sets that member (in place or appended).
    fn members(&mut self, timestamp: Option<&[u8]>, out: &mut Vec<u8>) {
        self.i += 1;
        out.push(b'{');
        let mut first = true;
        let mut replaced = false;
        let mut key = Vec::new();
        let mut discard = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                b'}' => {
                    self.i += 1;
                    break;
                }
                0 => break,
                b',' => {
                    self.i += 1;
                    continue;
                }
                _ => {}
            }
            key.clear();
            self.string(&mut key);
            self.skip_ws();
            if self.peek() == b':' {
                self.i += 1;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            write_gson_string(&key, out);
            out.push(b':');
            match timestamp {
                Some(ts) if key == b"timestamp" => {
                    discard.clear();
                    self.value(&mut discard);
                    out.extend_from_slice(ts);
                    replaced = true;
                }
                _ => self.value(out),
            }
        }
        if let (Some(ts), false) = (timestamp, replaced) {
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(b"\"timestamp\":");
            out.extend_from_slice(ts);
        }
        out.push(b'}');
    }

    /// Decodes the JSON string at the cursor into UTF-8 bytes (lone surrogates as `?`).
    fn string(&mut self, out: &mut Vec<u8>) {
        if self.peek() != b'"' {
            return;
        }
        self.i += 1;
        loop {
            let start = self.i;
            while !matches!(self.peek(), b'"' | b'\\' | 0) {
                self.i += 1;
            }
            out.extend_from_slice(&self.s[start..self.i]);
            match self.peek() {
                b'"' => {
                    self.i += 1;
                    return;
                }
                b'\\' => {
                    self.i += 1;
                    let esc = self.peek();
                    self.i += 1;
                    match esc {
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => self.unicode_escape(out),
                        other => out.push(other),
                    }
                }
                _ => return,
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.s.get(self.i..self.i + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        let v = u32::from_str_radix(text, 16).ok()?;
        self.i += 4;
        Some(v)
    }

    fn unicode_escape(&mut self, out: &mut Vec<u8>) {
        let Some(unit) = self.hex4() else {
            out.push(b'?');
            return;
        };
        let code = if (0xD800..0xDC00).contains(&unit) {
            let low = if self.s.get(self.i..self.i + 2) == Some(b"\\u") {
                let save = self.i;
                self.i += 2;
                match self.hex4() {
                    Some(low) if (0xDC00..0xE000).contains(&low) => Some(low),
                    _ => {
                        self.i = save;
                        None
                    }
                }
            } else {
                None
            };
            low.map(|low| 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
        } else if (0xDC00..0xE000).contains(&unit) {
            None
        } else {
            Some(unit)
        };
        match code.and_then(char::from_u32) {
            Some(c) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            None => out.push(b'?'),
        }
    }
}

/// Writes decoded UTF-8 `text` as a JSON string, escaped as gson's `JsonWriter` does.
fn write_gson_string(text: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
            // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
            0xE2 if text.get(i + 1) == Some(&0x80)
                && matches!(text.get(i + 2), Some(0xA8) | Some(0xA9)) =>
            {
                out.extend_from_slice(if text[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(host: &str, ts: Option<&str>) -> String {
        let mut out = Vec::new();
        write_alert(host.as_bytes(), ts.map(str::as_bytes), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn appends_timestamp_to_a_compact_host() {
        assert_eq!(
            alert(
                r#"{"name":"web-1","cpu":{"usage":0.91}}"#,
                Some(r#""2025-12-28T04:56:17.004Z""#)
            ),
            r#"{"name":"web-1","cpu":{"usage":0.91},"timestamp":"2025-12-28T04:56:17.004Z"}"#
        );
    }

    #[test]
    fn compacts_pretty_input_and_keeps_number_literals() {
        assert_eq!(
            alert(
                "{\n  \"cpu\" : { \"pct\" : 5.1e-1 },\n  \"ids\" : [ 1 , 2.0 ] , \"ok\": true }",
                Some(" \"t\" ")
            ),
            r#"{"cpu":{"pct":5.1e-1},"ids":[1,2.0],"ok":true,"timestamp":"t"}"#
        );
    }

    #[test]
    fn empty_host_and_missing_timestamp() {
        assert_eq!(alert("{}", None), r#"{"timestamp":null}"#);
        assert_eq!(alert("{ }", Some("123")), r#"{"timestamp":123}"#);
    }

    #[test]
    fn existing_timestamp_member_is_replaced_in_place() {
        assert_eq!(
            alert(r#"{"timestamp":"old","name":"a"}"#, Some(r#""new""#)),
            r#"{"timestamp":"new","name":"a"}"#
        );
    }

    #[test]
    fn strings_are_escaped_like_gson() {
        assert_eq!(
            alert(
                r#"{"n":"a\/b\u00e9\u0001\"\\\t<&>\u2028\ud83d\ude00\ud800x"}"#,
                Some(r#""t""#)
            ),
            "{\"n\":\"a/b\u{e9}\\u0001\\\"\\\\\\t<&>\\u2028\u{1F600}?x\",\"timestamp\":\"t\"}"
        );
    }
}
