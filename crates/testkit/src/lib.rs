//! `metricpipe-testkit`: what the integration tests share, as a dev-dependency only.
//!
//! - [`shared_cluster`]: the one plaintext cluster of a test run. `scripts/ci-tests.sh`
//!   starts it once and exports [`BOOTSTRAP_ENV`]; a plain `cargo test` (no variable)
//!   starts one per test binary. Tests on it keep to their own topics and group ids
//!   ([`unique`]) so that they cannot interfere.
//! - [`kill_drill_cluster`]: the cluster for drills that kill and restart brokers, one
//!   drill at a time, healed between them; [`secured_cluster`]: a 1-node SASL_SSL cluster
//!   with every secured test's users ([`SECURED_USERS`]), each test on its own users,
//!   topics and groups, left running as it was (tests that need any 1-node cluster no one
//!   kills use it too). `scripts/ci-tests.sh` keeps one of each per run
//!   ([`CLUSTERS_DIR_ENV`]); alone, a test binary starts its own.
//! - [`own_cluster`]: a cluster of one test's own (the mutual-TLS
//!   cluster). Own, secured and kill-drill clusters wait for the binary's [`drill_turn`],
//!   so parallel test threads never start several clusters at once on a small machine.
//! - Kafka clients through [`metricpipe_kafka::ClientSettings`] (no hand-built configs):
//!   [`client_config`], [`create_topics`], [`produce`], [`read_topic`].
//! - [`wait_until`], [`free_port`], and [`metricpipe_bin!`] for the binary under test.

mod cluster;
mod kafka;
mod util;

pub use cluster::{
    drill_turn, kill_drill_cluster, own_cluster, secured_cluster, shared_cluster, KillDrillCluster,
    OwnCluster, SecuredCluster, SharedCluster, BOOTSTRAP_ENV, CLUSTERS_DIR_ENV, SECURED_USERS,
};
pub use kafka::{
    admin, client_config, consumer, create_topics, produce, produce_keyed, produce_to, producer,
    read_topic, settings,
};
pub use metricpipe_kafka::ClientRole;
pub use util::{command, free_port, unique, wait_until};

/// The path of the `metricpipe` binary under test. Cargo sets `CARGO_BIN_EXE_metricpipe`
/// for the metricpipe crate's own tests only, so this is a macro expanded there.
#[macro_export]
macro_rules! metricpipe_bin {
    () => {
        env!("CARGO_BIN_EXE_metricpipe")
    };
}
