//! The admin crate's integration tests, one binary with a module per area.

mod topics;
