//! `metricpipe topics` and `metricpipe local` as a user runs them, on real clusters.

use std::process::Command;

use metricpipe_local::LocalCluster;

fn metricpipe() -> Command {
    metricpipe_testkit::command(metricpipe_testkit::metricpipe_bin!())
}

#[test]
fn a_single_broker_cluster_refuses_replication_factor_two_and_says_how_to_lower_it() {
    let cluster = metricpipe_testkit::single_broker_cluster();
    let out = metricpipe()
        .args(["topics", "create", "--bootstrap-servers"])
        .arg(cluster.bootstrap_servers())
        .output()
        .expect("run metricpipe");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "must exit non-zero; stderr: {stderr}"
    );
    assert!(stderr.contains("replication factor 2"), "{stderr}");
    assert!(stderr.contains("has 1"), "{stderr}");
    assert!(stderr.contains("--replication-factor 1"), "{stderr}");

    // The advice works.
    let out = metricpipe()
        .args([
            "topics",
            "create",
            "--replication-factor",
            "1",
            "--bootstrap-servers",
        ])
        .arg(cluster.bootstrap_servers())
        .output()
        .expect("run metricpipe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("created").count(), 4, "{stdout}");

    let out = metricpipe()
        .args(["topics", "describe", "--json", "--bootstrap-servers"])
        .arg(cluster.bootstrap_servers())
        .output()
        .expect("run metricpipe");
    let infos: serde_json::Value = serde_json::from_slice(&out.stdout).expect("describe --json");
    let infos = infos.as_array().expect("an array");
    assert_eq!(infos.len(), 4);
    assert!(infos
        .iter()
        .all(|t| t["partitions"].as_array().map(|p| p.len()) == Some(3)));
}

#[test]
fn local_up_status_kill_start_down_manage_a_detached_cluster() {
    // `local up` starts a cluster of its own: one drill at a time.
    let _turn = metricpipe_testkit::drill_turn();
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster_dir = dir.path().join("cluster");
    let free_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let local = |args: &[&str]| {
        let out = metricpipe()
            .arg("local")
            .args(args)
            .arg("--dir")
            .arg(&cluster_dir)
            .output()
            .expect("run metricpipe local");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let port = free_port.to_string();
    let (ok, stdout, stderr) = local(&["up", "--brokers", "1", "--port", &port, "--heap", "256m"]);
    // Whatever happens below, leave no JVM behind.
    struct Down<'a>(&'a std::path::Path);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            if let Ok(c) = LocalCluster::open(self.0) {
                let _ = c.down();
            }
        }
    }
    let _down = Down(&cluster_dir);
    assert!(ok, "local up failed: {stderr}");
    assert_eq!(stdout.trim(), format!("127.0.0.1:{port}"));

    let (ok, stdout, _) = local(&["status", "--json"]);
    assert!(ok);
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("status json");
    assert_eq!(status[0]["running"], true, "{stdout}");

    let (ok, _, stderr) = local(&["kill", "1"]);
    assert!(ok, "{stderr}");
    let (_, stdout, _) = local(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("status json");
    assert_eq!(status[0]["running"], false, "{stdout}");

    let (ok, _, stderr) = local(&["kill", "7"]);
    assert!(!ok);
    assert!(stderr.contains("node 7 does not exist"), "{stderr}");

    let (ok, _, stderr) = local(&["start", "1"]);
    assert!(ok, "{stderr}");
    let (_, stdout, _) = local(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("status json");
    assert_eq!(status[0]["running"], true, "{stdout}");

    let (ok, _, stderr) = local(&["down"]);
    assert!(ok, "{stderr}");
    assert!(!cluster_dir.exists());
    let (ok, _, stderr) = local(&["status"]);
    assert!(!ok);
    assert!(stderr.contains("local up"), "{stderr}");
}
