//! Feedback on long work: a spinner when stderr is a terminal, plain lines otherwise (CI
//! logs, pipes), so the same call suits both.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

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
            if let Ok(style) = ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
            {
                bar.set_style(style);
            }
            bar.set_message(message);
            bar.enable_steady_tick(Duration::from_millis(100));
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
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
        eprintln!("{line}");
    }

    pub fn fail(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}
