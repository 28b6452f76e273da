//! `metricpipe local` as a user runs it: `up` never mistakes another cluster for its own,
//! names a port that is taken, and leaves no JVM behind when it fails; `status`, `kill`,
//! `start` and `down` manage the detached cluster it starts.

use std::path::Path;
use std::process::Command;

use metricpipe_local::LocalCluster;

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
    // Another cluster of this run that no test kills: the 1-node secured one.
    let foreign = metricpipe_testkit::secured_cluster();
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

/// `metricpipe local ARGS --dir dir`: whether it succeeded, its stdout and its stderr.
fn local(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = metricpipe()
        .arg("local")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .expect("run metricpipe local");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Takes the cluster in `dir` down when dropped, whatever the test did before: no JVM is
/// left behind.
struct Down<'a>(&'a Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        if let Ok(c) = LocalCluster::open(self.0) {
            let _ = c.down();
        }
    }
}

/// The whole life of one `local up` cluster, which this test alone starts: a start that
/// fails stops its node (its `--port 0` picked free ports), then in the same directory
/// `up` on a chosen port, `status`, `kill`, `start` and `down` manage it as a detached
/// cluster; while it runs, `topics_cli`'s single-broker checks run on it.
#[test]
fn local_up_stops_its_nodes_on_failure_then_status_kill_start_down_manage_a_detached_cluster() {
    // `local up` starts a cluster of its own: one drill at a time.
    let _turn = metricpipe_testkit::drill_turn();
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster_dir = dir.path().join("c");
    let _down = Down(&cluster_dir);

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
    // Port 0 picked free ports: the failed start's record names them.
    let failed = LocalCluster::open(&cluster_dir).expect("the failed start's cluster.json");
    let bootstrap = failed.bootstrap_servers();
    assert!(bootstrap.starts_with("127.0.0.1:"), "{bootstrap}");
    assert_ne!(bootstrap, "127.0.0.1:9092", "port 0 must not mean 9092");
    assert_ne!(bootstrap, "127.0.0.1:0", "port 0 must pick a port");
    drop(failed);

    // The same directory, with time to start, on a port we choose: the cluster proves it
    // is ours.
    let port = metricpipe_testkit::free_port().to_string();
    let (ok, stdout, stderr) = local(
        &cluster_dir,
        &["up", "--brokers", "1", "--port", &port, "--heap", "256m"],
    );
    assert!(ok, "local up failed: {stderr}");
    assert_eq!(stdout.trim(), format!("127.0.0.1:{port}"));
    assert_eq!(processes_under(&cluster_dir).len(), 1, "one node runs");

    let (ok, stdout, _) = local(&cluster_dir, &["status", "--json"]);
    assert!(ok);
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("status json");
    assert_eq!(status[0]["running"], true, "{stdout}");

    // A single broker, as a user gets it from `local up --brokers 1`.
    crate::topics_cli::a_single_broker_cluster_refuses_replication_factor_two_and_says_how_to_lower_it(
        &format!("127.0.0.1:{port}"),
    );

    let (ok, _, stderr) = local(&cluster_dir, &["kill", "1"]);
    assert!(ok, "{stderr}");
    let (_, stdout, _) = local(&cluster_dir, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("status json");
    assert_eq!(status[0]["running"], false, "{stdout}");

    let (ok, _, stderr) = local(&cluster_dir, &["kill", "7"]);
    assert!(!ok);
    assert!(stderr.contains("node 7 does not exist"), "{stderr}");

    let (ok, _, stderr) = local(&cluster_dir, &["start", "1"]);
    assert!(ok, "{stderr}");
    let (_, stdout, _) = local(&cluster_dir, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("status json");
    assert_eq!(status[0]["running"], true, "{stdout}");

    let (ok, _, stderr) = local(&cluster_dir, &["down"]);
    assert!(ok, "{stderr}");
    assert!(
        processes_under(&cluster_dir).is_empty(),
        "down stops the node"
    );
    assert!(!cluster_dir.exists());
    let (ok, _, stderr) = local(&cluster_dir, &["status"]);
    assert!(!ok);
    assert!(stderr.contains("local up"), "{stderr}");
}
