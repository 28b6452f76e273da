//! Metricbeat's monitoring endpoint on `http.enabled/host/port`: `/` is the beat's info
//! document and `/stats` libbeat's counters, with Metricbeat's paths, next to `/metrics`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn get(port: u16, path: &str) -> (u16, String) {
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    metricpipe_telemetry::http_get(addr, path, Duration::from_secs(5)).unwrap()
}

fn json(port: u16, path: &str) -> serde_json::Value {
    let (code, body) = get(port, path);
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

#[test]
fn root_and_stats_have_metricbeats_shapes() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: bind one, then let the agent take it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    std::fs::write(
        dir.path().join("metricbeat.yml"),
        format!(
            "metricbeat.max_start_delay: 0s\nmetricbeat.modules:\n- module: system\n  metricsets: [cpu, memory]\n  period: 1s\nhttp.enabled: true\nhttp.port: {port}\noutput.console.enabled: true\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_metricpipe"))
        .arg("agent")
        .arg(format!("--path.home={}", dir.path().display()))
        .args(["-e", "--cpu-window", "100ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    // A few more events, so the counters have moved.
    for _ in 0..3 {
        lines.next().unwrap().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(port, "/healthz").0 != 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }

    let info = json(port, "/");
    assert_eq!(info["beat"], "metricbeat");
    assert_eq!(info["uuid"], first["agent"]["id"]);
    assert_eq!(info["ephemeral_id"], first["agent"]["ephemeral_id"]);
    assert_eq!(info["name"], first["agent"]["name"]);
    assert_eq!(info["version"], first["agent"]["version"]);
    for key in [
        "binary_arch",
        "build_commit",
        "build_time",
        "hostname",
        "uid",
        "gid",
    ] {
        assert!(info[key].is_string(), "{key}: {info}");
    }
    assert_eq!(info["elastic_licensed"], false);

    let stats = json(port, "/stats");
    let out = &stats["libbeat"]["output"];
    assert_eq!(out["type"], "console");
    let acked = out["events"]["acked"].as_u64().unwrap();
    assert!(acked >= 4, "{stats}");
    assert_eq!(out["events"]["total"], acked);
    let pipeline = &stats["libbeat"]["pipeline"]["events"];
    assert!(pipeline["total"].as_u64().unwrap() >= acked, "{stats}");
    assert_eq!(stats["libbeat"]["pipeline"]["clients"], 2);
    assert!(stats["beat"]["memstats"]["rss"].as_u64().unwrap() > 0);
    assert!(stats["beat"]["cpu"]["total"]["time"]["ms"].is_u64());
    assert!(stats["beat"]["handles"]["open"].as_u64().unwrap() > 0);
    assert_eq!(
        stats["beat"]["info"]["ephemeral_id"],
        first["agent"]["ephemeral_id"]
    );
    assert!(stats["system"]["load"]["1"].is_number(), "{stats}");
    let cpu_events = &stats["metricbeat"]["system"]["cpu"]["events"];
    assert!(cpu_events.as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["metricbeat"]["system"]["memory"]["failures"], 0);
    assert!(stats["system"]["cpu"]["cores"].as_u64().unwrap() >= 1);

    let (_, pretty) = get(port, "/stats?pretty");
    assert!(pretty.contains("\n  \"beat\""), "{pretty}");
    assert_eq!(get(port, "/metrics").0, 200);
    assert_eq!(get(port, "/nope").0, 404);

    // SAFETY: signalling the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
