//! One KRaft node: its configuration, its log dir and its process.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;

use crate::spawn::{self, SpawnedNode};
use crate::{io_err, Lifetime, LocalError, NodeInfo, Result};

/// PLAINTEXT and CONTROLLER ports for each node: `base+i` and `base+100+i`, or free ports.
pub(crate) fn allocate_ports(nodes: usize, base: Option<u16>) -> Result<Vec<(u16, u16)>> {
    if let Some(base) = base {
        return (0..nodes)
            .map(|i| {
                let port = u16::try_from(i).ok().and_then(|i| base.checked_add(i));
                let controller = port.and_then(|p| p.checked_add(100));
                port.zip(controller)
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(LocalError::PortRange { base, nodes });
    }
    // Hold every listener until all ports are chosen, so that no two nodes get the same one.
    let mut held = Vec::new();
    for _ in 0..nodes * 2 {
        let l = TcpListener::bind("127.0.0.1:0").map_err(io_err("finding a free port"))?;
        held.push(l);
    }
    let ports: Vec<u16> = held
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<_>>()
        .map_err(io_err("finding a free port"))?;
    Ok(ports.chunks(2).map(|p| (p[0], p[1])).collect())
}

/// Kafka cluster ids are 16 random bytes in unpadded URL-safe base64.
///
/// Like Kafka's `Uuid.randomUuid`, an id that starts with `-` is drawn again:
/// command-line tools (StorageTool's `-t`) would read it as a flag.
pub(crate) fn random_cluster_id() -> String {
    loop {
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(uuid::Uuid::new_v4().as_bytes());
        if !id.starts_with('-') {
            return id;
        }
    }
}

pub(crate) fn write_config(
    node: &NodeInfo,
    all: &[NodeInfo],
    overrides: &[(String, String)],
) -> Result<()> {
    std::fs::create_dir_all(node.dir.join("data"))
        .map_err(io_err(format!("creating {}", node.dir.display())))?;
    let voters = all
        .iter()
        .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
        .collect::<Vec<_>>()
        .join(",");
    let n = all.len();
    let internal_rf = n.min(3);
    let internal_min_isr = n.min(2);
    let mut props = vec![
        ("process.roles".to_string(), "broker,controller".to_string()),
        ("node.id".into(), node.id.to_string()),
        ("controller.quorum.voters".into(), voters),
        (
            "listeners".into(),
            format!(
                "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
                node.port, node.controller_port
            ),
        ),
        (
            "advertised.listeners".into(),
            format!("PLAINTEXT://127.0.0.1:{}", node.port),
        ),
        ("controller.listener.names".into(), "CONTROLLER".into()),
        ("inter.broker.listener.name".into(), "PLAINTEXT".into()),
        (
            "listener.security.protocol.map".into(),
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT".into(),
        ),
        (
            "log.dirs".into(),
            node.dir.join("data").display().to_string(),
        ),
        (
            "offsets.topic.replication.factor".into(),
            internal_rf.to_string(),
        ),
        // Fewer offsets partitions than the default 50: the first consumer group comes up
        // in a second, not in ten, on a machine whose cores are shared with the tests.
        ("offsets.topic.num.partitions".into(), "12".into()),
        (
            "transaction.state.log.replication.factor".into(),
            internal_rf.to_string(),
        ),
        (
            "transaction.state.log.min.isr".into(),
            internal_min_isr.to_string(),
        ),
        (
            "share.coordinator.state.topic.replication.factor".into(),
            internal_rf.to_string(),
        ),
        (
            "share.coordinator.state.topic.min.isr".into(),
            internal_min_isr.to_string(),
        ),
        ("group.initial.rebalance.delay.ms".into(), "0".into()),
        // Topics are made by `metricpipe topics create`, with the right partitions and
        // replication; a typo in a topic name must fail, not make a 1-partition topic.
        ("auto.create.topics.enable".into(), "false".into()),
    ];
    for (k, v) in overrides {
        props.retain(|(key, _)| key != k);
        props.push((k.clone(), v.clone()));
    }
    let text: String = props.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let path = node.properties_path();
    std::fs::write(&path, text).map_err(io_err(format!("writing {}", path.display())))?;

    let log4j = format!(
        "appender.file.type = File\n\
         appender.file.name = file\n\
         appender.file.fileName = {}\n\
         appender.file.layout.type = PatternLayout\n\
         appender.file.layout.pattern = [%d] %p %m (%c)%n\n\
         rootLogger.level = INFO\n\
         rootLogger.appenderRef.file.ref = file\n\
         logger.kafka.name = kafka\nlogger.kafka.level = INFO\n\
         logger.state.name = state.change.logger\nlogger.state.level = WARN\n",
        node.log_path().display()
    );
    let path = node.dir.join("log4j2.properties");
    std::fs::write(&path, log4j).map_err(io_err(format!("writing {}", path.display())))
}

fn classpath(libs: &Path) -> String {
    format!("{}/*", libs.display())
}

/// Format every node's log dir, in parallel: each is a JVM start of its own.
pub(crate) fn format_all(
    libs: &Path,
    cluster_id: &str,
    nodes: &[NodeInfo],
    extra_args: &[String],
) -> Result<()> {
    let children: Vec<(u32, std::io::Result<std::process::Child>)> = nodes
        .iter()
        .map(|n| {
            let child = Command::new("java")
                .arg("-Xmx256m")
                .arg("-cp")
                .arg(classpath(libs))
                .arg(format!(
                    "-Dlog4j2.configurationFile={}",
                    n.dir.join("log4j2.properties").display()
                ))
                .arg("kafka.tools.StorageTool")
                .arg("format")
                .arg(format!("--cluster-id={cluster_id}"))
                .arg("-c")
                .arg(n.properties_path())
                .args(extra_args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn();
            (n.id, child)
        })
        .collect();
    for (id, child) in children {
        let out = child
            .and_then(|c| c.wait_with_output())
            .map_err(|e| LocalError::Format {
                node: id,
                detail: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(LocalError::Format {
                node: id,
                detail: format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            });
        }
    }
    Ok(())
}

pub(crate) fn start(node: &NodeInfo, libs: &Path, heap: &str, lifetime: Lifetime) -> Result<u32> {
    let stdout_path = node.dir.join("stdout.log");
    let mut cmd = Command::new("java");
    cmd.arg(format!("-Xmx{heap}"))
        .arg(format!("-Xms{heap}"))
        .arg("-XX:+UseG1GC")
        .arg("-XX:MaxGCPauseMillis=20")
        .arg("-Djava.awt.headless=true")
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            node.dir.join("log4j2.properties").display()
        ))
        .arg("-cp")
        .arg(classpath(libs))
        .arg("kafka.Kafka")
        .arg(node.properties_path());
    let SpawnedNode { pid } = spawn::spawn(cmd, &stdout_path, lifetime)
        .map_err(io_err(format!("starting kafka node {}", node.id)))?;
    Ok(pid)
}

/// A node runs if its recorded pid is a live (not zombie) process started with its config.
pub(crate) fn is_running(node: &NodeInfo) -> bool {
    let Some(pid) = node.pid else { return false };
    spawn::reap(pid);
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name, which may itself hold spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    if matches!(state, Some("Z") | Some("X") | None) {
        return false;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let needle = node.properties_path().display().to_string();
    cmdline
        .split(|b| *b == 0)
        .any(|arg| arg == needle.as_bytes())
}

/// Send `signal` and wait up to `wait` for the process to go. True if it is gone.
pub(crate) fn signal_and_wait(node: &NodeInfo, signal: i32, wait: Duration) -> bool {
    if !is_running(node) {
        return true;
    }
    let Some(pid) = node.pid else { return true };
    // SAFETY: kill(2) with a pid we checked belongs to this node; no memory is involved.
    unsafe {
        libc::kill(pid as i32, signal);
    }
    let start = Instant::now();
    while start.elapsed() < wait {
        if !is_running(node) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

pub(crate) fn log_tail(node: &NodeInfo, lines: usize) -> String {
    let mut text = String::new();
    for p in [node.dir.join("stdout.log"), node.log_path()] {
        if let Ok(t) = std::fs::read_to_string(&p) {
            let tail: Vec<&str> = t.lines().rev().take(lines).collect();
            text.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::random_cluster_id;

    #[test]
    fn cluster_ids_are_22_url_safe_chars_and_never_start_with_a_dash() {
        for _ in 0..5_000 {
            let id = random_cluster_id();
            assert_eq!(id.len(), 22, "{id}");
            assert!(!id.starts_with('-'), "{id}");
            assert!(id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        }
    }
}
