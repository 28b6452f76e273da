//! The bench crate's integration tests, one binary with a module per area.

mod passthrough_and_offsets;
