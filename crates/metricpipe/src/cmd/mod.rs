pub mod local;
pub mod topics;
