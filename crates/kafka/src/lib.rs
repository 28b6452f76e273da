//! `metricpipe-kafka`: the one place for Kafka plumbing shared by every command.
//!
//! - [`ClientSettings`] → [`rdkafka::ClientConfig`] per [`ClientRole`]: the brokers, our
//!   defaults for the role, then property layers (files, then `-X` flags) in a fixed
//!   precedence ([`settings`] documents it).
//! - [`classify`] / [`classify_code`]: the one table that says whether a Kafka error is
//!   retriable, permanent for the record, or fatal for the client ([`errors`]).
//! - [`topics`]: the four topic names and their defaults (partitions, replication factor).
//! - [`command_config`]: a Java client properties file (`--command-config`, as Kafka's
//!   tools take it) translated to librdkafka properties ([`java_properties`] reads it).
//!
//! **Invariants:** no other crate keeps its own list of permanent or fatal error codes;
//! a property given by the operator always beats one of our defaults.

pub mod access;
pub mod command_config;
pub mod config_providers;
pub mod errors;
pub mod java_properties;
pub mod settings;
pub mod topics;

pub use errors::{classify, classify_code, is_access_refusal, is_unreachable, ErrorClass};
pub use settings::{parse_property, ClientRole, ClientSettings, PropertyError};
