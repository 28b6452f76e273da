//! The top crate's integration tests, one binary with a module per area.

mod reader;
