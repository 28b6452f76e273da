pub mod local;
pub mod topics;
pub mod agent;
