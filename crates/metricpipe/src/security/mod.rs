//! Kafka security settings from the files operators already have. Self-contained (std and
//! thiserror only) so that it can move into the shared Kafka settings crate.

pub mod command_config;
pub mod java_properties;
