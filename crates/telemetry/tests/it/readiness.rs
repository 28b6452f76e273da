//! /readyz on a real cluster: unready within ~30 s of losing every broker, ready again after.

use std::time::{Duration, Instant};

use metricpipe_telemetry::{http_get, probe_brokers, serve, ProbeOptions};

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if ok() {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{what} did not happen within {timeout:?}");
}

#[test]
fn readyz_follows_broker_reachability() {
    // Kills brokers: the binary's kill-drill cluster, not the run's shared one.
    let cluster = metricpipe_testkit::kill_drill_cluster();
    let readiness =
        probe_brokers(&cluster.bootstrap_servers(), ProbeOptions::default()).expect("probe");
    let server = serve("127.0.0.1:0", readiness.clone()).expect("serve");
    let addr = server.local_addr();
    let readyz = || http_get(addr, "/readyz", Duration::from_secs(5)).map(|(c, _)| c);

    wait_for(
        "ready on a healthy cluster",
        Duration::from_secs(30),
        || readyz().ok() == Some(200),
    );

    let ids: Vec<u32> = cluster.nodes().iter().map(|n| n.id).collect();
    for id in &ids {
        cluster.kill(*id).expect("kill");
    }
    let killed = Instant::now();
    // The last answer is fresh, so the process stays ready through a short blip.
    assert_eq!(readyz().expect("GET /readyz"), 200);
    wait_for(
        "unready after losing every broker",
        Duration::from_secs(45),
        || readyz().ok() == Some(503),
    );
    let took = killed.elapsed();
    assert!(
        took >= Duration::from_secs(20) && took <= Duration::from_secs(40),
        "unready after {took:?}, expected about 30 s"
    );
    let (_, body) = http_get(addr, "/readyz", Duration::from_secs(5)).expect("GET /readyz");
    assert!(body.contains("no broker answered"), "{body}");
    // /healthz is about the process, not the brokers.
    assert_eq!(
        http_get(addr, "/healthz", Duration::from_secs(5))
            .expect("healthz")
            .0,
        200
    );

    for id in &ids {
        cluster.start(*id).expect("start");
    }
    cluster
        .wait_ready(ids.len(), Duration::from_secs(120))
        .expect("cluster back");
    wait_for("ready after recovery", Duration::from_secs(30), || {
        readyz().ok() == Some(200)
    });
}
