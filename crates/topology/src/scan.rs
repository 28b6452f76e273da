//! A validating JSON scanner that skips what it is not asked about.
//!
//! Strings are skipped eight bytes at a time (a SWAR test for quote, backslash and control
//! characters); nothing is allocated or decoded unless asked. It accepts
//! exactly RFC 8259 JSON (nesting limited to 128 levels, as serde_json does), so "is this
//! JSON?" has the same answer as with a full parser.

use std::borrow::Cow;

/// Where and why the input stopped being JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError {
    pub at: usize,
    pub what: &'static str,
}

pub type Result<T> = std::result::Result<T, SyntaxError>;

const MAX_DEPTH: u32 = 128;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit set in (at least) the first byte of `x` that is `"`, `\\` or below 0x20.
/// Borrows can flag bytes after a true hit, never before one, so the lowest flag is exact.
#[inline]
fn stop_mask(x: u64) -> u64 {
    let quote = x ^ (ONES * b'"' as u64);
    let backslash = x ^ (ONES * b'\\' as u64);
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v;
    (zero_byte(quote) | zero_byte(backslash) | (x.wrapping_sub(ONES * 0x20) & !x)) & HIGHS
}

/// Bytes that end a run of plain string content: quote, backslash, control characters.
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

pub struct Scan<'a> {
    s: &'a [u8],
    pub i: usize,
    depth: u32,
}

impl<'a> Scan<'a> {
    pub fn new(s: &'a [u8]) -> Self {
        Scan { s, i: 0, depth: 0 }
    }

    fn err<T>(&self, what: &'static str) -> Result<T> {
        Err(SyntaxError { at: self.i, what })
    }

    pub fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.s
    }

    pub fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    pub fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    /// Skips one string; returns its raw content (between the quotes) and whether it has
    /// escapes.
    pub fn string(&mut self) -> Result<(&'a [u8], bool)> {
        if self.peek() != Some(b'"') {
            return self.err("expected a string");
        }
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        loop {
            // Eight bytes at a time: find the first quote, backslash or control character.
            let mut n = self.i;
            while let Some(chunk) = self.s.get(n..n + 8) {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                let stops = stop_mask(u64::from_le_bytes(word));
                if stops != 0 {
                    n += (stops.trailing_zeros() / 8) as usize;
                    break;
                }
                n += 8;
            }
            while n < self.s.len() && !STOP[self.s[n] as usize] {
                n += 1;
            }
            self.i = n;
            match self.peek() {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    let content = &self.s[start..self.i];
                    self.i += 1;
                    return Ok((content, escaped));
                }
                Some(b'\\') => {}
                Some(_) => return self.err("control character in a string"),
            }
            escaped = true;
            self.i += 1;
            match self.peek() {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                Some(b'u') => {
                    let hex = self.s.get(self.i + 1..self.i + 5);
                    if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                        return self.err("bad \\u escape");
                    }
                    self.i += 5;
                }
                _ => return self.err("bad escape"),
            }
        }
    }

    /// A string's decoded text (borrowed when it has no escapes).
    pub fn string_text(&mut self) -> Result<Cow<'a, str>> {
        let start = self.i;
        let (raw, escaped) = self.string()?;
        if !escaped {
            return std::str::from_utf8(raw)
                .map(Cow::Borrowed)
                .or_else(|_| self.err("not UTF-8"));
        }
        let quoted =
            std::str::from_utf8(&self.s[start..self.i]).or_else(|_| self.err("not UTF-8"))?;
        serde_json::from_str::<String>(quoted)
            .map(Cow::Owned)
            .or_else(|_| self.err("bad string"))
    }

    fn number(&mut self) -> Result<()> {
        let digits = |sc: &mut Self| {
            let start = sc.i;
            while let Some(b'0'..=b'9') = sc.peek() {
                sc.i += 1;
            }
            sc.i > start
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return self.err("bad number"),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return self.err("bad number");
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !digits(self) {
                return self.err("bad number");
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<()> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            self.err("expected a value")
        }
    }

    /// Skips one value of any kind (after leading whitespace).
    pub fn skip_value(&mut self) -> Result<()> {
        self.ws();
        match self.peek() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'{') => self.object(|sc, _, _| sc.skip_value()),
            Some(b'[') => self.array(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.err("expected a value"),
        }
    }

    /// Skips one value and returns its span.
    pub fn value_span(&mut self) -> Result<std::ops::Range<usize>> {
        self.ws();
        let start = self.i;
        self.skip_value()?;
        Ok(start..self.i)
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("nested too deep");
        }
        self.i += 1;
        Ok(())
    }

    fn array(&mut self) -> Result<()> {
        self.enter()?;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.skip_value()?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return self.err("expected , or ]"),
            }
        }
    }

    /// Walks an object; `member` gets each raw key (and whether it has escapes) with the
    /// cursor before the value, and must consume the value.
    pub fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a [u8], bool) -> Result<()>,
    ) -> Result<()> {
        self.ws();
        if self.peek() != Some(b'{') {
            return self.err("expected an object");
        }
        self.enter()?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            let (key, escaped) = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return self.err("expected :");
            }
            self.i += 1;
            self.ws();
            member(self, key, escaped)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return self.err("expected , or }"),
            }
        }
    }
}

/// Whether a raw key (as [`Scan::string`] returns it) means `name`.
pub fn key_is(raw: &[u8], escaped: bool, name: &str) -> bool {
    if !escaped {
        return raw == name.as_bytes();
    }
    let quoted = [b"\"", raw, b"\""].concat();
    serde_json::from_slice::<String>(&quoted).is_ok_and(|k| k == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(s: &str) -> bool {
        let mut sc = Scan::new(s.as_bytes());
        sc.skip_value().is_ok() && {
            sc.ws();
            sc.at_end()
        }
    }

    #[test]
    fn agrees_with_serde_json_on_validity() {
        let cases = [
            r#"{"a":[1,-2.5e+3,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9"],"b":{}}"#,
            "[]",
            " 0 ",
            "-0.0e0",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            r#"{"a" 1}"#,
            r#"{"a":1,}"#,
            "[1,]",
            r#""\x""#,
            r#""\u12g4""#,
            "\"a\u{1}b\"",
            &format!("\"{}\u{1}\"", "x".repeat(40)),
            &format!("\"{}\\\\n{}\"", "x".repeat(40), "y".repeat(40)),
            r#"{"a":1}}"#,
            "tru",
            "nul",
            "",
            r#"{"a":"#,
            r#""abc"#,
        ];
        for c in cases {
            assert_eq!(
                valid(c),
                serde_json::from_str::<serde::de::IgnoredAny>(c).is_ok(),
                "{c:?}"
            );
        }
    }

    #[test]
    fn agrees_with_serde_json_on_random_inputs() {
        let alphabet = b"{}[]\":,\\ 0123456789-+.eEtrufalsn\x01abu/";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut checked = 0;
        for _ in 0..50_000 {
            let len = (next() % 40) as usize;
            let mut text: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            // Bias towards valid documents: wrap half of them in a string or an array.
            if next() % 2 == 0 {
                text.insert(0, b'"');
                text.push(b'"');
            }
            let text = String::from_utf8(text).unwrap();
            assert_eq!(
                valid(&text),
                serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok(),
                "{text:?}"
            );
            checked += 1;
        }
        assert_eq!(checked, 50_000);
    }

    #[test]
    fn nesting_is_limited() {
        assert!(valid(&format!("{}{}", "[".repeat(128), "]".repeat(128))));
        assert!(!valid(&format!("{}{}", "[".repeat(129), "]".repeat(129))));
    }

    #[test]
    fn escaped_keys_compare_decoded() {
        assert!(key_is(br"n\u0061me", true, "name"));
        assert!(key_is(b"name", false, "name"));
        assert!(!key_is(b"nam", false, "name"));
    }
}
