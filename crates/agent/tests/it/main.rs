//! The agent crate's integration tests, one binary with a module per area.

mod bad_config;
mod common;
mod config;
mod kafka_delivery;
mod kafka_outage;
mod package;
