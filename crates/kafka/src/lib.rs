//! `metricpipe-kafka`: the one place for Kafka plumbing shared by every command.
//!
//! - [`ClientSettings`] → [`rdkafka::ClientConfig`] per [`ClientRole`]: the brokers, our
//!   defaults for the role, then property layers (files, then `-X` flags) in a fixed
//!   precedence ([`settings`] documents it). Every Kafka client of the workspace is built
//!   here: `grep -rn "ClientConfig::new" crates/*/src` names this crate only (tests aside).
//! - [`classify`] / [`classify_code`]: the one table that says whether a Kafka error is
//!   retriable, permanent for the record, or fatal for the client ([`errors`]).
//! - [`topics`]: the four topic names and their defaults (partitions, replication factor),
//!   the only copy of them.
//! - [`command_config`]: a Java client properties file (`--command-config`, as Kafka's
//!   tools take it) translated to librdkafka properties ([`java_properties`] reads it).
//! - [`tally`]: failed deliveries counted per cause, one log line per interval;
//!   [`partitions`]: a consumer that assigns itself finds partitions added since.
//!
//! Without the default `client` feature the crate is `topics` and the property file readers
//! only, and builds without librdkafka (the topology and its fuzz target build it so).
//!
//! **Invariants:** no other crate keeps its own list of permanent or fatal error codes;
//! a property given by the operator always beats one of our defaults.

#[cfg(feature = "client")]
pub mod access;
pub mod command_config;
pub mod config_providers;
#[cfg(feature = "client")]
pub mod errors;
pub mod java_properties;
#[cfg(feature = "client")]
pub mod partitions;
#[cfg(feature = "client")]
pub mod settings;
#[cfg(feature = "client")]
pub mod tally;
pub mod topics;

#[cfg(feature = "client")]
pub use errors::{classify, classify_code, is_access_refusal, is_unreachable, ErrorClass};
#[cfg(feature = "client")]
pub use settings::{
    check_property, parse_property, ClientRole, ClientSettings, PropertyCheck, PropertyError,
};
