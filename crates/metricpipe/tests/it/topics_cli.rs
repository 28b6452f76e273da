//! `metricpipe topics` as a user runs it, on a real cluster: the checks run inside
//! `local_cli.rs`'s lifecycle test, on the 1-node cluster its `local up` starts (one
//! cluster start for both).

use std::process::Command;

fn metricpipe() -> Command {
    metricpipe_testkit::command(metricpipe_testkit::metricpipe_bin!())
}

/// `topics create` on the 1-node cluster at `bootstrap` (its topics' names are the
/// defaults: the cluster must hold none of them yet) refuses the default replication factor
/// 2, says how to lower it, and the advice works.
pub fn a_single_broker_cluster_refuses_replication_factor_two_and_says_how_to_lower_it(
    bootstrap: &str,
) {
    let out = metricpipe()
        .args(["topics", "create", "--bootstrap-servers"])
        .arg(bootstrap)
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
        .arg(bootstrap)
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
        .arg(bootstrap)
        .output()
        .expect("run metricpipe");
    let infos: serde_json::Value = serde_json::from_slice(&out.stdout).expect("describe --json");
    let infos = infos.as_array().expect("an array");
    assert_eq!(infos.len(), 4);
    assert!(infos
        .iter()
        .all(|t| t["partitions"].as_array().map(|p| p.len()) == Some(3)));
}
