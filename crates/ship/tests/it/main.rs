//! The ship crate's integration tests, one binary with a module per area.

mod topic_limit;
