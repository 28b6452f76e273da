//! The local crate's integration tests, one binary with a module per area.

mod ownership;
mod secured;
