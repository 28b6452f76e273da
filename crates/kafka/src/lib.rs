//! `metricpipe-kafka`: the one place for Kafka plumbing shared by every command.
//!
//! - [`ClientSettings`] → [`rdkafka::ClientConfig`] per [`ClientRole`]: the brokers, our
//!   defaults for the role, then property layers (files, then `-X` flags) in a fixed
//!   precedence ([`settings`] documents it).
//! - [`classify`] / [`classify_code`]: the one table that says whether a Kafka error is
//!   retriable, permanent for the record, or fatal for the client ([`errors`]).
//! - [`topics`]: the four topic names and their defaults (partitions, replication factor).
//!
//! **Invariants:** no other crate keeps its own list of permanent or fatal error codes;
//! a property given by the operator always beats one of our defaults.

pub mod errors;
pub mod settings;
pub mod topics;

pub use errors::{classify, classify_code, is_unreachable, ErrorClass};
pub use settings::{parse_property, ClientRole, ClientSettings, PropertyError};
