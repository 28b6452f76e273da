//! The streams crate's integration tests, one binary with a module per area.

mod markers;
mod positions;
