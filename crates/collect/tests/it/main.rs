//! The collect crate's integration tests, one binary with a module per area.

mod fixtures;
mod oracle;
mod prop_parsers;
mod property;
