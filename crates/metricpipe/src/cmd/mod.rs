pub mod local;
pub mod topics;
pub mod agent;
pub mod loadgen;
pub mod bench;
pub mod streams;
