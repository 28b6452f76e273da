//! Feedback on long work: a spinner when stderr is a terminal, plain lines otherwise (CI
//! logs, pipes), so the same call suits both.
//!
//! While a spinner runs, log lines ([`LogWriter`], the tracing writer) and the local
//! cluster's notices ([`install`]) are printed above it instead of through it.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn active() -> Option<ProgressBar> {
    ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn set_active(bar: Option<ProgressBar>) {
    *ACTIVE.lock().unwrap_or_else(|p| p.into_inner()) = bar;
}

/// Print one line on stderr, above the spinner if one runs.
pub fn line(text: &str) {
    match active() {
        Some(bar) => bar.println(text),
        None => eprintln!("{text}"),
    }
}

/// Route the local cluster harness's notices (the first jar fetch) through [`line`].
pub fn install() {
    metricpipe_local::set_notice_hook(line);
}

/// The tracing writer: stderr, with a running spinner hidden while a log line is written.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match active() {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Whether to colour stderr: only on a terminal, and never with `NO_COLOR` set to anything
/// non-empty (<https://no-color.org>).
pub fn colour_stderr() -> bool {
    std::io::stderr().is_terminal() && no_color_unset(std::env::var_os("NO_COLOR"))
}

fn no_color_unset(value: Option<std::ffi::OsString>) -> bool {
    match value {
        None => true,
        Some(v) => v.is_empty(),
    }
}

/// One long step. `finish` or `fail` prints its outcome with the time it took.
pub struct Step {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Step {
    /// Start a step: `message` says what is happening, e.g. "starting a 3-node Kafka cluster".
    pub fn start(message: impl Into<String>) -> Step {
        let message = message.into();
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            let template = if colour_stderr() {
                "{spinner:.cyan} {msg} {elapsed:.dim}"
            } else {
                "{spinner} {msg} {elapsed}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.set_message(message);
            bar.enable_steady_tick(Duration::from_millis(100));
            set_active(Some(bar.clone()));
            Some(bar)
        } else {
            eprintln!("{message} ...");
            None
        };
        Step {
            bar,
            started: Instant::now(),
        }
    }

    pub fn finish(self, message: impl AsRef<str>) {
        let line = format!(
            "{} ({:.1}s)",
            message.as_ref(),
            self.started.elapsed().as_secs_f64()
        );
        self.clear();
        eprintln!("{line}");
    }

    pub fn fail(self) {
        self.clear();
    }

    fn clear(&self) {
        if let Some(b) = &self.bar {
            set_active(None);
            b.finish_and_clear();
        }
    }
}

/// Fetch the Kafka jars (first run only) under their own spinner, so that the cluster's
/// start-up time that follows is told apart from the download.
pub fn ensure_kafka_jars() -> anyhow::Result<()> {
    use anyhow::Context;
    install();
    if metricpipe_local::kafka_jars_cached() {
        return Ok(());
    }
    let step = Step::start(format!(
        "fetching the Apache Kafka {} jars (first run only)",
        metricpipe_local::KAFKA_VERSION
    ));
    match metricpipe_local::resolve_kafka_jars() {
        Ok(libs) => {
            step.finish(format!("Kafka jars ready in {}", libs.display()));
            Ok(())
        }
        Err(e) => {
            step.fail();
            Err(e).context("fetching the Kafka jars")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_set_to_anything_non_empty_turns_colour_off() {
        assert!(no_color_unset(None));
        assert!(no_color_unset(Some("".into())));
        assert!(!no_color_unset(Some("1".into())));
    }
}
