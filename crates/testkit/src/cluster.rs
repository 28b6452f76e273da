//! The run's shared clusters and the drills' own clusters.

use std::ops::Deref;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use metricpipe_local::{ClusterOptions, LocalCluster};

/// Set by `scripts/ci-tests.sh` to the bootstrap servers of the cluster it started for the
/// whole run (`host:port,…`).
pub const BOOTSTRAP_ENV: &str = "METRICPIPE_TEST_BOOTSTRAP";

/// Set by `scripts/ci-tests.sh` to a directory for the run's other clusters (the kill
/// drills', the secured tests'): the first test binary that needs one starts it there,
/// detached, and the binaries after it open it again; the script stops them at the end.
/// Test binaries run one after another, so no two binaries use such a cluster at once.
pub const CLUSTERS_DIR_ENV: &str = "METRICPIPE_TEST_CLUSTERS_DIR";

/// The cluster `name` of this run ([`CLUSTERS_DIR_ENV`]), or of this test binary alone,
/// built from `opts` (an ephemeral cluster's options: no directory, tied).
fn run_cluster(name: &str, opts: ClusterOptions) -> LocalCluster {
    let Some(root) = std::env::var_os(CLUSTERS_DIR_ENV).filter(|d| !d.is_empty()) else {
        return metricpipe_local::process_cluster(opts)
            .unwrap_or_else(|e| panic!("starting the {name} cluster: {e}"));
    };
    let dir = std::path::Path::new(&root).join(name);
    if let Ok(cluster) = LocalCluster::open(&dir) {
        if cluster.status().iter().any(|n| n.running) {
            return cluster;
        }
    }
    let opts = ClusterOptions {
        dir: Some(dir),
        lifetime: metricpipe_local::Lifetime::Detached,
        ..opts
    };
    LocalCluster::up(opts).unwrap_or_else(|e| panic!("starting the run's {name} cluster: {e}"))
}

/// The shared cluster as tests see it: its brokers only. Tests on it must not kill,
/// restart or reconfigure brokers; they use [`own_cluster`] for that.
#[derive(Debug)]
pub struct SharedCluster {
    bootstrap: String,
}

impl SharedCluster {
    /// `127.0.0.1:p1,127.0.0.1:p2,…`.
    pub fn bootstrap_servers(&self) -> String {
        self.bootstrap.clone()
    }
}

/// The run's 3-node plaintext cluster: [`BOOTSTRAP_ENV`]'s if set, else one started for
/// this test binary on first use (it dies with the binary).
///
/// # Panics
/// If the cluster cannot be started; the message says why (no `java`, no jars, …).
pub fn shared_cluster() -> &'static SharedCluster {
    static SHARED: OnceLock<SharedCluster> = OnceLock::new();
    SHARED.get_or_init(|| {
        let bootstrap = match std::env::var(BOOTSTRAP_ENV) {
            Ok(b) if !b.trim().is_empty() => b,
            _ => metricpipe_local::shared_test_cluster().bootstrap_servers(),
        };
        SharedCluster { bootstrap }
    })
}

/// A drill's own cluster, held with this binary's turn for own clusters: dropping it
/// stops the nodes, then passes the turn on.
pub struct OwnCluster {
    // Declared before the turn: fields drop in order, so nodes stop before the next starts.
    cluster: LocalCluster,
    _turn: MutexGuard<'static, ()>,
}

impl Deref for OwnCluster {
    type Target = LocalCluster;
    fn deref(&self) -> &LocalCluster {
        &self.cluster
    }
}

/// This test binary's turn for drills: held by every drill with a cluster of its own and
/// by the heavy drills on the shared cluster, so that test threads running in parallel
/// never run two of them at once on a small machine.
pub fn drill_turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    // A drill that panicked held the turn; what it started is gone, so the turn is free.
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

/// The 3-node cluster of the drills that kill and restart brokers (the run's, see
/// [`CLUSTERS_DIR_ENV`], else this binary's), with the [`drill_turn`]: started on first
/// use, and every node running and ready again (whatever the drill before left) when
/// handed out.
pub struct KillDrillCluster {
    cluster: &'static LocalCluster,
    _turn: MutexGuard<'static, ()>,
}

impl KillDrillCluster {
    /// The cluster itself, e.g. to restart a node from another thread.
    pub fn cluster(&self) -> &'static LocalCluster {
        self.cluster
    }
}

impl Deref for KillDrillCluster {
    type Target = LocalCluster;
    fn deref(&self) -> &LocalCluster {
        self.cluster
    }
}

/// Waits for this binary's [`drill_turn`], then hands out its kill-drill cluster.
///
/// # Panics
/// If the cluster cannot be started, or its nodes restarted.
pub fn kill_drill_cluster() -> KillDrillCluster {
    static CLUSTER: OnceLock<LocalCluster> = OnceLock::new();
    let turn = drill_turn();
    let cluster = CLUSTER.get_or_init(|| run_cluster("kill-drill", ClusterOptions::ephemeral(3)));
    let down: Vec<u32> = cluster
        .status()
        .iter()
        .filter(|n| !n.running)
        .map(|n| n.id)
        .collect();
    if !down.is_empty() {
        for id in down {
            cluster
                .start(id)
                .unwrap_or_else(|e| panic!("restarting node {id} for the next drill: {e}"));
        }
        cluster
            .wait_ready(3, Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("the kill drills' cluster after a restart: {e}"));
    }
    KillDrillCluster {
        cluster,
        _turn: turn,
    }
}

/// The SASL users (name, password) of the run's [`secured_cluster`]: every secured test's
/// users, created at format time (SCRAM credentials go into the storage format, so a
/// user cannot be added to a running cluster). Each test names its own users and gives
/// them ACLs on its own topics and groups only, so that tests cannot grant each other
/// anything: `agent`, `streams`, `nobody` are metricpipe's secured_pipeline's,
/// `refusals-*` its secured_refusals', `alice` and `bob` metricpipe-local's secured test's.
pub const SECURED_USERS: &[(&str, &str)] = &[
    ("agent", "agent-pw"),
    ("streams", "streams-pw"),
    ("nobody", "nobody-pw"),
    ("refusals-agent", "refusals-agent-pw"),
    ("refusals-streams", "refusals-streams-pw"),
    ("alice", "alice-secret"),
    ("bob", "bob-secret"),
];

/// The run's 1-broker SASL_SSL cluster (SCRAM, ACLs) with [`SECURED_USERS`], held with
/// this binary's [`drill_turn`]: shared through [`CLUSTERS_DIR_ENV`] like the kill drills'
/// cluster, else started for this binary on first use.
pub struct SecuredCluster {
    cluster: &'static LocalCluster,
    _turn: MutexGuard<'static, ()>,
}

impl Deref for SecuredCluster {
    type Target = LocalCluster;
    fn deref(&self) -> &LocalCluster {
        self.cluster
    }
}

/// Waits for this binary's [`drill_turn`], then hands out the run's secured cluster.
///
/// # Panics
/// If the cluster cannot be started.
pub fn secured_cluster() -> SecuredCluster {
    static CLUSTER: OnceLock<LocalCluster> = OnceLock::new();
    let turn = drill_turn();
    let cluster = CLUSTER.get_or_init(|| {
        let users = SECURED_USERS
            .iter()
            .map(|(n, p)| metricpipe_local::User::new(*n, *p))
            .collect();
        let opts = ClusterOptions::secured(1, metricpipe_local::SecurityMode::SaslSsl, users);
        run_cluster("secured", opts)
    });
    SecuredCluster {
        cluster,
        _turn: turn,
    }
}

/// Waits for this binary's [`drill_turn`], then starts a cluster for the calling test
/// alone (the mutual-TLS cluster).
///
/// # Panics
/// If the cluster cannot be started.
pub fn own_cluster(opts: ClusterOptions) -> OwnCluster {
    let turn = drill_turn();
    let cluster =
        LocalCluster::up(opts).unwrap_or_else(|e| panic!("starting a drill's own cluster: {e}"));
    OwnCluster {
        cluster,
        _turn: turn,
    }
}
