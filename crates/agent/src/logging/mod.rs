//! The agent's logging as Metricbeat's `logging.*` describes it: one output (stderr, rotated
//! files or nothing), ECS JSON lines or human text, the level and the `-d` selectors.
//!
//! - [`rotate`]: the log files, rotated as Metricbeat's.
//! - [`format`](mod@format): Metricbeat 8's ECS JSON line.
//! - [`selectors`]: logger names to tracing targets.
//!
//! The caller decides the filter on top (RUST_LOG, `--log`) and what stderr is (a writer
//! that keeps a spinner intact, colour or not).

pub mod format;
pub mod rotate;
pub mod selectors;

use std::path::PathBuf;

use tracing_appender::non_blocking::NonBlockingBuilder;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::{LogOutput, LoggingConfig};
pub use selectors::{agent_filter, warn_unknown, SELECTORS};
pub use tracing_appender::non_blocking::WorkerGuard;

/// The log files could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("logging.files: cannot open a log file under {}: {source}", path.display())]
pub struct LogFilesError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Install the global tracing subscriber for `cfg`'s output with `filter`: stderr through
/// `stderr` (with ANSI colour when `ansi` and the format is text), the rotated files
/// through a non-blocking writer, or nothing. Keep the returned guard until exit: it
/// flushes the log file.
///
/// # Errors
/// [`LogFilesError`] when the log directory or file cannot be created or opened.
pub fn install<W>(
    cfg: &LoggingConfig,
    filter: EnvFilter,
    stderr: W,
    ansi: bool,
) -> Result<Option<WorkerGuard>, LogFilesError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let output = cfg.output();
    let json = cfg.json_for(output);
    Ok(match output {
        LogOutput::Stderr => {
            init(filter, stderr, json, ansi);
            None
        }
        LogOutput::Discard => {
            init(filter, std::io::sink, json, false);
            None
        }
        LogOutput::Files => {
            let rotator = rotate::Rotator::open(&cfg.files).map_err(|source| LogFilesError {
                path: cfg.files.path.clone(),
                source,
            })?;
            let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(rotator);
            init(filter, writer, json, false);
            Some(guard)
        }
    })
}

fn init<W>(filter: EnvFilter, writer: W, json: bool, ansi: bool)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if json {
        builder.event_format(format::EcsJson).init();
    } else {
        builder.with_ansi(ansi).with_target(false).init();
    }
}
