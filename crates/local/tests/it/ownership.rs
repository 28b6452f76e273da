//! Readiness against a real cluster: a cluster's own handle proves it is ready, and a handle
//! whose formatted cluster id differs is told that another cluster answers on its ports.

use std::time::{Duration, Instant};

use metricpipe_local::{LocalCluster, LocalError};

#[test]
fn a_cluster_that_answers_with_another_cluster_id_is_not_taken_for_ours() {
    // Any real cluster of this run that no test kills will do: the run's 1-node secured one
    // (readiness probes it with its admin settings, as an impostor's copied state would).
    let real = metricpipe_testkit::secured_cluster();
    real.wait_ready(1, Duration::from_secs(30))
        .expect("the real cluster proves it is itself");

    // The same ports and node ids, but the state of a cluster formatted with another id:
    // what `local up` would see if another Kafka held its ports.
    let text = std::fs::read_to_string(real.dir().join("cluster.json")).expect("state file");
    let mut state: serde_json::Value = serde_json::from_str(&text).expect("state JSON");
    state["cluster_id"] = "AAAAAAAAAAAAAAAAAAAAAA".into();
    for node in state["nodes"].as_array_mut().expect("nodes") {
        node["pid"] = serde_json::Value::Null;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("cluster.json"), state.to_string()).expect("write state");
    let impostor = LocalCluster::open(dir.path()).expect("open");

    let started = Instant::now();
    let err = impostor
        .wait_ready(1, Duration::from_secs(60))
        .expect_err("another cluster id must not count as ready");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it fails at once, not at the timeout"
    );
    assert!(matches!(err, LocalError::Foreign { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&real.cluster_id()), "{text}");
    assert!(text.contains("--port"), "{text}");
}
