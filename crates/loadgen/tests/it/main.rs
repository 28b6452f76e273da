//! The loadgen crate's integration tests, one binary with a module per area.

mod produce_and_count;
