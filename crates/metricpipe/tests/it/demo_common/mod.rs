//! `metricpipe demo --no-top` end to end, shared by `demo_cli` and `demo_secured`: a real
//! cluster, agent and streams as child processes, alerts under `--burn`, and after Ctrl-C
//! (SIGINT) nothing it started is left.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn field(line: &str, key: &str) -> Option<f64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .map(|v| v.trim_end_matches("/s"))
        .and_then(|v| v.parse().ok())
}

fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

/// Runs `metricpipe demo --no-top --brokers 1 --burn` with `extra` flags until a host,
/// cpu traffic and an alert show, then Ctrl-C; asserts that nothing it started is left.
/// Returns the demo's stderr.
pub fn headless_demo_shows_traffic_and_alerts(extra: &[&str]) -> String {
    // The demo starts a cluster of its own: one drill at a time.
    let _turn = metricpipe_testkit::drill_turn();
    let mut child = Command::new(env!("CARGO_BIN_EXE_metricpipe"))
        .args([
            "demo",
            "--no-top",
            "--brokers",
            "1",
            "--burn",
            "--burn-for",
            "5m",
        ])
        .args(extra)
        .env("METRICPIPE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn demo");
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });

    // Wait for a host, traffic through streams and an alert.
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut lines = Vec::new();
    let ok = loop {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) else {
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                break false;
            }
            continue;
        };
        let done = field(&line, "hosts=").is_some_and(|h| h >= 1.0)
            && field(&line, "cpu=").is_some_and(|r| r > 0.0)
            && field(&line, "total_alerts=").is_some_and(|a| a >= 1.0);
        lines.push(line);
        if done {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
    };
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stderr = stderr.join().unwrap_or_default();
    assert!(
        ok,
        "no host, cpu traffic and alert within 240 s; stdout:\n{}\nstderr:\n{stderr}",
        lines.join("\n")
    );
    let status = status.expect("the demo did not stop within 60 s of Ctrl-C");
    assert!(status.success(), "exit {status}; stderr:\n{stderr}");
    assert!(
        stderr.contains("nothing it started is left running"),
        "{stderr}"
    );

    // The agent, streams and Kafka processes all ran from the demo's directory.
    let dir = stderr
        .lines()
        .find_map(|l| l.split("logs in ").nth(1))
        .expect("the demo names its directory")
        .trim()
        .to_string();
    let left = processes_mentioning(&dir);
    assert!(left.is_empty(), "still running: {left:?}");
    assert!(
        !std::path::Path::new(&dir).exists(),
        "{dir} was not removed"
    );
    stderr
}
