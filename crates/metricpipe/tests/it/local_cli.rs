//! `metricpipe local up` as a user runs it: it never mistakes another cluster for its own,
//! names a port that is taken, and leaves no JVM behind when it fails.

use std::path::Path;
use std::process::Command;

fn metricpipe() -> Command {
    metricpipe_testkit::command(metricpipe_testkit::metricpipe_bin!())
}

/// Pids of live processes whose command line mentions `dir` (a node's config lives there).
fn processes_under(dir: &Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmdline).contains(&needle) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn local_up_on_a_port_another_cluster_holds_fails_naming_the_port_and_leaves_no_process() {
    let foreign = metricpipe_testkit::single_broker_cluster();
    let port = foreign.nodes()[0].port;
    let dir = tempfile::tempdir().expect("temp dir");
    let ours = dir.path().join("ours");

    let out = metricpipe()
        .args(["local", "up", "--brokers", "1", "--port"])
        .arg(port.to_string())
        .arg("--dir")
        .arg(&ours)
        .output()
        .expect("run metricpipe");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must fail; stderr: {stderr}");
    assert!(
        stderr.contains(&format!("port {port} ")),
        "names the port: {stderr}"
    );
    assert!(stderr.contains("--port"), "names the flag: {stderr}");
    assert!(!stderr.contains("cluster up"), "claims success: {stderr}");
    assert_eq!(
        stderr.matches("error:").count(),
        1,
        "one error line: {stderr}"
    );
    assert!(processes_under(&ours).is_empty(), "a node was left running");
    assert!(
        foreign.status().iter().all(|n| n.running),
        "the foreign cluster must be untouched"
    );
}

#[test]
fn local_up_stops_its_nodes_on_failure_and_port_0_picks_free_ports() {
    // `local up` starts a cluster of its own: one drill at a time.
    let _turn = metricpipe_testkit::drill_turn();
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster_dir = dir.path().join("c");

    // A timeout no JVM can meet: the node starts, then `up` must stop it again.
    let out = metricpipe()
        .args([
            "local",
            "up",
            "--brokers",
            "1",
            "--port",
            "0",
            "--timeout",
            // 1s was met by a JVM on an idle machine: the node must not be ready in time.
            "1ms",
        ])
        .arg("--dir")
        .arg(&cluster_dir)
        .output()
        .expect("run metricpipe");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must fail; stderr: {stderr}");
    assert!(stderr.contains("did not become ready"), "{stderr}");
    assert!(
        processes_under(&cluster_dir).is_empty(),
        "a node outlived the failed `local up`"
    );

    // The same directory, with time to start: free ports, and the cluster proves it is ours.
    let out = metricpipe()
        .args(["local", "up", "--brokers", "1", "--port", "0"])
        .arg("--dir")
        .arg(&cluster_dir)
        .output()
        .expect("run metricpipe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bootstrap = stdout.trim();
    assert!(bootstrap.starts_with("127.0.0.1:"), "{stdout}");
    assert_ne!(bootstrap, "127.0.0.1:9092", "port 0 must not mean 9092");
    assert_eq!(processes_under(&cluster_dir).len(), 1, "one node runs");

    let out = metricpipe()
        .args(["local", "down", "--dir"])
        .arg(&cluster_dir)
        .output()
        .expect("run metricpipe");
    assert!(out.status.success());
    assert!(
        processes_under(&cluster_dir).is_empty(),
        "down stops the node"
    );
}
