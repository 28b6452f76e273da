//! What `metricpipe top` shows, without the terminal.
//!
//! - [`model::Dashboard`]: the state, fed one record at a time with
//!   [`Dashboard::apply`](model::Dashboard::apply): hosts with their latest CPU % and
//!   memory % (sortable with [`model::SortKey`]), each host's recent CPU for a sparkline,
//!   the alert feed, and per-topic rates by record timestamp. Pure and clock-free.
//! - [`reader::Reader`]: reads the four pipeline topics with no consumer group, starting
//!   [`ReaderOptions::lookback`](reader::ReaderOptions) back (5 minutes) by record timestamp
//!   (`offsets_for_times`), so the screen fills at once.
//! - [`ui::draw`]: the ratatui view of a dashboard on any frame size (80x24 and up).
//! - [`tail::run`]: the console consumer behind `metricpipe tail`, one line per record,
//!   with no consumer group or with one that commits only what was printed.
//!
//! - [`keys`]: what each key does to the view ([`ViewState::on_key`](ui::ViewState::on_key)).
//!
//! The binary owns the terminal (raw mode, reading keys, the refresh loop); this crate only
//! draws into a ratatui `Frame`, so views are tested with ratatui's `TestBackend`.

pub mod keys;
pub mod model;
pub mod reader;
pub mod tail;
pub mod ui;

pub use model::{Dashboard, SortKey, TopicRole};
pub use reader::{Reader, ReaderOptions, Topics};

/// Errors of the dashboard's Kafka side. Each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum TopError {
    #[error("no answer from the brokers at {bootstrap}: {detail}. Is the cluster up, and --bootstrap-server right?")]
    Unreachable { bootstrap: String, detail: String },
    #[error("none of the pipeline topics ({topics}) exists on {bootstrap}; create them with `metricpipe topics create -b {bootstrap}`")]
    NoTopics { bootstrap: String, topics: String },
    #[error("{what}: {detail}")]
    Kafka { what: String, detail: String },
}

pub type Result<T, E = TopError> = std::result::Result<T, E>;
