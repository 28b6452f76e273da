//! A reader for `java.util.Properties` text: the format of the client properties files that
//! Kafka's own tools take (`--command-config`, `--consumer.config`).
//!
//! The rules are those of `Properties.load(Reader)` (Java SE 17 API docs):
//! - a natural line ends at `\n`, `\r` or `\r\n`; a line ending in an odd number of `\` is
//!   continued on the next one, whose leading whitespace is dropped;
//! - a line whose first non-blank character is `#` or `!` is a comment (never continued);
//! - the key ends at the first unescaped `=`, `:` or whitespace; whitespace, then at most one
//!   `=` or `:`, then whitespace separate it from the value;
//! - `\t`, `\n`, `\r`, `\f`, `\uXXXX` are escapes, `\` before any other character stands for
//!   that character; a malformed `\u` is an error (Java throws too).
//!
//! A key given twice keeps its last value, in the position of its first.

/// A malformed `\uXXXX` escape, with the 1-based line where its logical line starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: malformed \\uXXXX escape")]
pub struct PropertiesError {
    pub line: usize,
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// Split into logical lines: (1-based first line number, text without continuations).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let natural = split_natural(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < natural.len() {
        let start = i;
        let first = natural[i].trim_start_matches(is_blank);
        i += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut line = first.to_string();
        while ends_continued(&line) {
            line.pop();
            if i == natural.len() {
                break;
            }
            line.push_str(natural[i].trim_start_matches(is_blank));
            i += 1;
        }
        out.push((start + 1, line));
    }
    out
}

fn split_natural(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => lines.push(std::mem::take(&mut cur)),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut cur));
            }
            c => cur.push(c),
        }
    }
    lines.push(cur);
    lines
}

fn ends_continued(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Undo the escapes of a key or value.
fn unescape(raw: &str, line: usize) -> Result<String, PropertiesError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32)
                    .ok_or(PropertiesError { line })?;
                out.push(code);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

/// Split one logical line into its raw key and raw value.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || is_blank(c) {
            key_end = i;
            break;
        }
    }
    let key = &line[..key_end];
    let mut rest = line[key_end..].trim_start_matches(is_blank);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches(is_blank);
    }
    (key, rest)
}

/// Parse properties text into (key, value) pairs, in file order.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, PropertiesError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (line, logical) in logical_lines(text) {
        let (raw_key, raw_value) = split_key_value(&logical);
        let key = unescape(raw_key, line)?;
        let value = unescape(raw_value, line)?;
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap()
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn separators_comments_and_blanks() {
        let text = "# a comment\n! another\n\n  a=1\nb : 2\nc 3\nd=\ne\n\tf = x = y\n";
        assert_eq!(
            p(text),
            kv(&[
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
                ("d", ""),
                ("e", ""),
                ("f", "x = y")
            ])
        );
    }

    #[test]
    fn continuations_drop_leading_whitespace() {
        let text = "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n    username=\"u\" \\\n    password=\"p\";\nnext=1";
        assert_eq!(
            p(text),
            kv(&[
                (
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p\";"
                ),
                ("next", "1")
            ])
        );
    }

    #[test]
    fn an_even_number_of_backslashes_is_no_continuation() {
        assert_eq!(p("a=x\\\\\nb=y"), kv(&[("a", "x\\"), ("b", "y")]));
    }

    #[test]
    fn escapes_in_keys_and_values() {
        assert_eq!(
            p("my\\ key\\=x=a\\tb\\u0041\\:\\\\"),
            kv(&[("my key=x", "a\tbA:\\")])
        );
        assert_eq!(
            p("path=C:\\\\certs\\\\ca.pem"),
            kv(&[("path", "C:\\certs\\ca.pem")])
        );
    }

    #[test]
    fn crlf_and_cr_line_ends() {
        assert_eq!(
            p("a=1\r\nb=2\rc=3"),
            kv(&[("a", "1"), ("b", "2"), ("c", "3")])
        );
    }

    #[test]
    fn comments_are_not_continued_and_last_value_wins() {
        assert_eq!(p("# x \\\na=1\na=2"), kv(&[("a", "2")]));
    }

    #[test]
    fn a_malformed_unicode_escape_names_its_line() {
        assert_eq!(
            parse("a=1\nb=\\u12").unwrap_err(),
            PropertiesError { line: 2 }
        );
        assert_eq!(parse("b=\\uZZZZ").unwrap_err(), PropertiesError { line: 1 });
    }
}
