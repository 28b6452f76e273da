//! The streams crate's integration tests, one binary with a module per area.

mod instance;
mod markers;
mod positions;
