//! A real Apache Kafka cluster on 127.0.0.1, for tests, benchmarks, the demo and by hand.
//!
//! The cluster is made of combined broker+controller KRaft nodes started from the
//! `org.apache.kafka:kafka_2.13` jars on Maven Central (see [`jars`]). Nothing is mocked:
//! the same code backs `metricpipe local up` and every integration test.
//!
//! ```no_run
//! use metricpipe_local::{LocalCluster, ClusterOptions};
//! let cluster = LocalCluster::up(ClusterOptions::ephemeral(3)).unwrap();
//! println!("{}", cluster.bootstrap_servers());
//! cluster.kill(2).unwrap();   // SIGKILL node 2, for a failover drill
//! cluster.start(2).unwrap();  // and bring it back with its data
//! ```
//!
//! Two lifetimes are supported:
//! - [`Lifetime::Tied`]: the nodes die with the process that started them (tests, demo).
//!   They are spawned from one thread that lives as long as the process, with
//!   `PR_SET_PDEATHSIG`, so even a test binary that aborts leaves no JVM behind.
//! - [`Lifetime::Detached`]: the nodes outlive the CLI (`metricpipe local up`) and are found
//!   again through the state file `cluster.json` in the cluster directory.

mod acl;
pub mod children;
mod jars;
mod node;
mod principals;
mod ready;
mod security;
mod spawn;
pub mod tls;

pub use acl::{Acl, Operation, Resource};
pub use children::{LogMode, TiedChild};
pub use jars::{kafka_jars_cached, resolve_kafka_jars, set_notice_hook, KAFKA_VERSION};
pub use principals::{pipeline_users, PipelineSecurity};
pub use security::{SecurityMode, User, ADMIN_USER};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Errors of the local cluster harness. Each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{what} failed: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not resolve the Kafka {version} jars with Maven: {detail}. Is `mvn` on PATH and Maven Central reachable? You can also point METRICPIPE_KAFKA_LIBS at a directory of Kafka jars")]
    Jars { version: String, detail: String },
    #[error(
        "`java` was not found on PATH: install a JDK (17 or newer) to run a local Kafka cluster"
    )]
    NoJava,
    #[error("formatting the log dir of node {node} failed: {detail}")]
    Format { node: u32, detail: String },
    #[error(
        "the cluster did not become ready within {waited:?}: {detail}. Node logs are in {dir}"
    )]
    NotReady {
        waited: Duration,
        detail: String,
        dir: PathBuf,
    },
    #[error("no local cluster in {0}: start one with `metricpipe local up --dir {0}`")]
    NoCluster(PathBuf),
    #[error("a local cluster already runs in {0}: use it, or stop it with `metricpipe local down --dir {0}`")]
    AlreadyRunning(PathBuf),
    #[error("node {id} does not exist; this cluster has nodes {valid}")]
    NoSuchNode { id: u32, valid: String },
    #[error("the cluster state file {path} is unreadable: {detail}. Remove the directory and run `metricpipe local up` again")]
    State { path: PathBuf, detail: String },
    #[error("a cluster needs at least 1 node, got {0}")]
    NoNodes(usize),
    #[error("port {port} on 127.0.0.1 ({role} of node {node}) is already in use by another process: pick other ports with `--port PORT` (node i listens on PORT+i-1 and PORT+100+i-1), or `--port 0` for free ones")]
    PortInUse {
        port: u16,
        role: &'static str,
        node: u32,
    },
    #[error("another Kafka cluster answers on {bootstrap}: {detail}. Stop it, or pick other ports with `--port PORT` or `--port 0`")]
    Foreign { bootstrap: String, detail: String },
    #[error("ports from {base} for {nodes} nodes go past 65535: pick a lower `--port`, or `--port 0` for free ones")]
    PortRange { base: u16, nodes: usize },
    #[error("making {what} for the cluster's TLS failed: {detail}")]
    Tls { what: String, detail: String },
    #[error("{0}")]
    Security(String),
    /// A step of a larger job failed: `what` names it.
    #[error("{what}")]
    Step {
        what: &'static str,
        #[source]
        source: Box<LocalError>,
    },
}

pub type Result<T, E = LocalError> = std::result::Result<T, E>;

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LocalError {
    let what = what.into();
    move |source| LocalError::Io { what, source }
}

/// Whether the nodes die with this process or outlive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lifetime {
    Tied,
    Detached,
}

/// How to build a cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub brokers: usize,
    /// The cluster directory; `None` makes a temporary one that is removed with the handle.
    pub dir: Option<PathBuf>,
    /// First PLAINTEXT port; node i listens on `base + i`. `None` picks free ports.
    pub port_base: Option<u16>,
    pub heap: String,
    pub lifetime: Lifetime,
    pub ready_timeout: Duration,
    /// Extra `server.properties` lines for every node, e.g. `("message.max.bytes", "2000000")`.
    pub broker_overrides: Vec<(String, String)>,
    /// The client listener's protocol; anything but PLAINTEXT also turns on ACLs.
    pub security: SecurityMode,
    /// SASL users besides `admin` (secured clusters only); they start with no ACLs.
    pub users: Vec<User>,
}

impl ClusterOptions {
    /// A cluster in a temporary directory on free ports, tied to this process: what tests want.
    pub fn ephemeral(brokers: usize) -> Self {
        ClusterOptions {
            brokers,
            dir: None,
            port_base: None,
            heap: "512m".into(),
            lifetime: Lifetime::Tied,
            ready_timeout: Duration::from_secs(90),
            broker_overrides: Vec::new(),
            security: SecurityMode::Plaintext,
            users: Vec::new(),
        }
    }

    /// An ephemeral cluster whose client listener uses `security`, with these users.
    pub fn secured(brokers: usize, security: SecurityMode, users: Vec<User>) -> Self {
        ClusterOptions {
            security,
            users,
            ..Self::ephemeral(brokers)
        }
    }
}

/// One node as recorded in the state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeInfo {
    pub id: u32,
    pub port: u16,
    pub controller_port: u16,
    pub dir: PathBuf,
    pub pid: Option<u32>,
}

impl NodeInfo {
    pub fn properties_path(&self) -> PathBuf {
        self.dir.join("server.properties")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }
}

/// What `cluster.json` holds: enough to find, kill and restart the nodes from another process.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ClusterState {
    kafka_version: String,
    cluster_id: String,
    heap: String,
    lifetime: Lifetime,
    libs: PathBuf,
    nodes: Vec<NodeInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    security: Option<security::SecurityState>,
}

/// Whether a node's process runs.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub id: u32,
    pub port: u16,
    pub pid: Option<u32>,
    pub running: bool,
}

/// A handle on a local cluster. Dropping a handle of an ephemeral cluster stops its nodes
/// and removes its directory; dropping a handle of a detached cluster leaves it running.
pub struct LocalCluster {
    dir: PathBuf,
    state: std::sync::Mutex<ClusterState>,
    _temp: Option<tempfile::TempDir>,
}

const STATE_FILE: &str = "cluster.json";

impl LocalCluster {
    /// Resolve the jars, format every node's log dir, start the nodes and wait until every
    /// broker is registered and answers metadata requests.
    pub fn up(opts: ClusterOptions) -> Result<Self> {
        if opts.brokers == 0 {
            return Err(LocalError::NoNodes(0));
        }
        let (dir, temp) = match &opts.dir {
            Some(d) => (d.clone(), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("metricpipe-kafka-")
                    .tempdir()
                    .map_err(io_err("creating a temporary cluster directory"))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        if dir.join(STATE_FILE).exists() {
            if let Ok(existing) = Self::open(&dir) {
                if existing.status().iter().any(|n| n.running) {
                    return Err(LocalError::AlreadyRunning(dir));
                }
            }
            // A stale cluster: start afresh so that ports and ids never mix.
            std::fs::remove_dir_all(&dir).map_err(io_err(format!("removing {}", dir.display())))?;
        }
        std::fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        let dir = dir
            .canonicalize()
            .map_err(io_err(format!("resolving {}", dir.display())))?;
        spawn::check_java()?;
        let libs = resolve_kafka_jars()?;

        let ports = node::allocate_ports(opts.brokers, opts.port_base)?;
        let cluster_id = node::random_cluster_id();
        let nodes: Vec<NodeInfo> = ports
            .iter()
            .enumerate()
            .map(|(i, (port, controller_port))| NodeInfo {
                id: i as u32 + 1,
                port: *port,
                controller_port: *controller_port,
                dir: dir.join(format!("node-{}", i + 1)),
                pid: None,
            })
            .collect();
        let secured = security::prepare(opts.security, &opts.users, &dir)?;
        let internal = match secured {
            Some(_) => security::internal_ports(opts.brokers, opts.port_base)?,
            None => vec![0; opts.brokers],
        };
        for (n, internal_port) in nodes.iter().zip(internal) {
            let mut overrides = match &secured {
                Some(s) => security::node_properties(s, n, internal_port),
                None => Vec::new(),
            };
            overrides.extend(opts.broker_overrides.iter().cloned());
            node::write_config(n, &nodes, &overrides)?;
        }
        ready::check_ports_free(&nodes)?;
        let format_args = security::format_args(secured.as_ref());
        node::format_all(&libs, &cluster_id, &nodes, &format_args)?;

        let state = ClusterState {
            kafka_version: KAFKA_VERSION.into(),
            cluster_id,
            heap: opts.heap.clone(),
            lifetime: opts.lifetime,
            libs,
            nodes,
            security: secured,
        };
        let cluster = LocalCluster {
            dir,
            state: std::sync::Mutex::new(state),
            _temp: temp,
        };
        record_start(&cluster.dir, &opts);
        let ids: Vec<u32> = cluster.lock().nodes.iter().map(|n| n.id).collect();
        let started = ids
            .into_iter()
            .try_for_each(|id| cluster.start(id))
            .and_then(|()| cluster.wait_ready(opts.brokers, opts.ready_timeout));
        if let Err(e) = started {
            // Whatever failed, no node of a cluster that never came up may outlive `up`:
            // a detached JVM left behind would hold its ports and confuse the next try.
            cluster.kill_all();
            let _ = cluster.clear_pids();
            return Err(e);
        }
        Ok(cluster)
    }

    /// Find a cluster that `local up` started earlier.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LocalError::NoCluster(dir.to_path_buf()))
            }
            Err(e) => return Err(io_err(format!("reading {}", path.display()))(e)),
        };
        let state: ClusterState = serde_json::from_str(&text).map_err(|e| LocalError::State {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        Ok(LocalCluster {
            dir: dir.to_path_buf(),
            state: std::sync::Mutex::new(state),
            _temp: None,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClusterState> {
        // A poisoned lock only means another thread panicked mid-update of plain data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self) -> Result<()> {
        let path = self.dir.join(STATE_FILE);
        let text = serde_json::to_string_pretty(&*self.lock()).map_err(|e| LocalError::State {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        std::fs::write(&path, text).map_err(io_err(format!("writing {}", path.display())))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn cluster_id(&self) -> String {
        self.lock().cluster_id.clone()
    }

    /// `127.0.0.1:p1,127.0.0.1:p2,...` for every node, running or not.
    pub fn bootstrap_servers(&self) -> String {
        self.lock()
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.lock().nodes.clone()
    }

    fn node(&self, id: u32) -> Result<NodeInfo> {
        let state = self.lock();
        state
            .nodes
            .iter()
            .find(|n| n.id == id)
            .cloned()
            .ok_or_else(|| LocalError::NoSuchNode {
                id,
                valid: state
                    .nodes
                    .iter()
                    .map(|n| n.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn set_pid(&self, id: u32, pid: Option<u32>) -> Result<()> {
        if let Some(n) = self.lock().nodes.iter_mut().find(|n| n.id == id) {
            n.pid = pid;
        }
        self.save()
    }

    /// Start node `id` (again), keeping its data. A node that already runs is left alone.
    pub fn start(&self, id: u32) -> Result<()> {
        let info = self.node(id)?;
        if node::is_running(&info) {
            return Ok(());
        }
        let (libs, heap, lifetime) = {
            let s = self.lock();
            (s.libs.clone(), s.heap.clone(), s.lifetime)
        };
        let pid = node::start(&info, &libs, &heap, lifetime)?;
        tracing::info!(node = id, pid, port = info.port, "kafka node started");
        self.set_pid(id, Some(pid))
    }

    /// SIGKILL node `id`: the crash of a broker, for failover drills.
    pub fn kill(&self, id: u32) -> Result<()> {
        let info = self.node(id)?;
        node::signal_and_wait(&info, libc::SIGKILL, Duration::from_secs(10));
        tracing::info!(node = id, "kafka node killed");
        self.set_pid(id, None)
    }

    /// SIGTERM node `id` and wait for a controlled shutdown (SIGKILL after `grace`).
    pub fn stop(&self, id: u32, grace: Duration) -> Result<()> {
        let info = self.node(id)?;
        if !node::signal_and_wait(&info, libc::SIGTERM, grace) {
            node::signal_and_wait(&info, libc::SIGKILL, Duration::from_secs(10));
        }
        self.set_pid(id, None)
    }

    pub fn status(&self) -> Vec<NodeStatus> {
        self.lock()
            .nodes
            .iter()
            .map(|n| NodeStatus {
                id: n.id,
                port: n.port,
                pid: n.pid,
                running: node::is_running(n),
            })
            .collect()
    }

    /// Stop every node (SIGKILL: the data is thrown away anyway) and remove the directory.
    pub fn down(self) -> Result<()> {
        self.kill_all();
        let dir = self.dir.clone();
        drop(self);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(format!("removing {}", dir.display()))(e)),
        }
    }

    fn kill_all(&self) {
        for n in self.nodes() {
            node::signal_and_wait(&n, libc::SIGKILL, Duration::from_secs(10));
        }
    }

    fn clear_pids(&self) -> Result<()> {
        for n in self.lock().nodes.iter_mut() {
            n.pid = None;
        }
        self.save()
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if self._temp.is_some() {
            self.kill_all();
        }
    }
}

/// The environment variable naming a file that gets one line per cluster started, for the
/// test stage to count clusters (`scripts/ci-tests.sh`), children's included.
pub const CLUSTER_LOG_ENV: &str = "METRICPIPE_CLUSTER_LOG";

/// Appends `metricpipe-local: starting cluster …` to the file named by [`CLUSTER_LOG_ENV`],
/// if set. Best effort: a count that misses a line must not stop a cluster.
fn record_start(dir: &Path, opts: &ClusterOptions) {
    use std::io::Write as _;
    let Some(path) = std::env::var_os(CLUSTER_LOG_ENV) else {
        return;
    };
    let line = format!(
        "metricpipe-local: starting cluster ({} nodes, {:?}, pid {}) in {}\n",
        opts.brokers,
        opts.security,
        std::process::id(),
        dir.display()
    );
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// One 3-node cluster per test binary: brokers share the machine's cores with the code
/// under test, so tests share a cluster rather than start one each.
pub fn shared_test_cluster() -> &'static LocalCluster {
    static CLUSTER: OnceLock<LocalCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        process_cluster(ClusterOptions::ephemeral(3))
            .unwrap_or_else(|e| panic!("starting the shared test cluster: {e}"))
    })
}

/// Starts a cluster that lives as long as this process, for a test binary's statics
/// (statics are never dropped): its nodes die with the process (PDEATHSIG), and its
/// directory is removed when the process exits.
///
/// # Errors
/// As [`LocalCluster::up`].
pub fn process_cluster(opts: ClusterOptions) -> Result<LocalCluster> {
    let cluster = LocalCluster::up(opts)?;
    spawn::remove_at_exit(cluster.dir().to_path_buf());
    Ok(cluster)
}
