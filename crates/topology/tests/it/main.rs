//! The topology crate's integration tests, one binary with a module per area.

mod driver;
mod kafka;
mod prop_router;
