//! `streams --dry-run`: a topology over lines of text, no broker. Each non-blank line is
//! one record value of the first source; outputs are printed as `topic<TAB>value`.

use std::io::{BufRead, Write};

use crate::{Output, Reason, SinkId, Topology};

/// Why a dry run stopped.
#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    #[error("reading stdin")]
    Read(#[source] std::io::Error),
    #[error("writing stdout")]
    Write(#[source] std::io::Error),
}

/// Prints outputs to `out` and rejections to `rejects`, numbered by input line.
struct Print<W: Write, E: Write> {
    out: W,
    rejects: E,
    line: usize,
    failed: Option<std::io::Error>,
}

impl<W: Write, E: Write> Output for Print<W, E> {
    fn emit(&mut self, _sink: SinkId, topic: &str, value: &[u8]) {
        let r = self
            .out
            .write_all(topic.as_bytes())
            .and_then(|_| self.out.write_all(b"\t"))
            .and_then(|_| self.out.write_all(value))
            .and_then(|_| self.out.write_all(b"\n"));
        if let Err(e) = r {
            self.failed.get_or_insert(e);
        }
    }

    fn reject(&mut self, node: &str, reason: Reason) {
        // Like eprintln: a rejection that cannot be told is not a reason to stop.
        let _ = writeln!(self.rejects, "line {}: {} (at {node})", self.line, reason);
    }
}

/// Runs each line of `input` (`\n` or `\r\n` ended; blank lines skipped) through
/// `topology`: outputs to `out` as `topic<TAB>value\n`, rejections to `rejects` as
/// `line N: REASON (at NODE)`. A reader that went away (broken pipe) ends the run quietly.
///
/// # Errors
/// [`DryRunError`]: reading `input` or writing `out` failed.
pub fn dry_run<X>(
    topology: &Topology<X>,
    mut input: impl BufRead,
    out: impl Write,
    rejects: impl Write,
) -> Result<(), DryRunError> {
    let mut print = Print {
        out,
        rejects,
        line: 0,
        failed: None,
    };
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input
            .read_until(b'\n', &mut buf)
            .map_err(DryRunError::Read)?
            == 0
        {
            break;
        }
        print.line += 1;
        let mut record: &[u8] = &buf;
        if let Some(r) = record.strip_suffix(b"\n") {
            record = r.strip_suffix(b"\r").unwrap_or(r);
        }
        if record.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        topology.process(0, record, &mut print);
        if let Some(e) = print.failed.take() {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(DryRunError::Write(e));
        }
    }
    print.out.flush().map_err(DryRunError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StreamsBuilder;

    #[test]
    fn each_line_is_a_record_and_blank_lines_are_skipped() {
        let builder = StreamsBuilder::raw();
        builder
            .stream("in")
            .filter(|v, _| Ok(v != b"drop"))
            .to("out");
        let topology = builder.build();
        let mut out = Vec::new();
        let mut rejects = Vec::new();
        dry_run(
            &topology,
            &b"a\r\n\n  \ndrop\nb"[..],
            &mut out,
            &mut rejects,
        )
        .expect("dry run");
        assert_eq!(out, b"out\ta\nout\tb\n");
        assert!(rejects.is_empty());
    }
}
