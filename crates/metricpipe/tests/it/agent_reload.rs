//! `metricbeat.config.modules.reload.enabled`: module files added, changed and removed
//! under modules.d take effect without a restart (console output, no Kafka needed).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640)).unwrap();
}

/// Wait for the first event line whose metricset is `name`; lines before it are dropped.
fn wait_for(rx: &mpsc::Receiver<String>, name: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(&format!("\"name\":\"{name}\"")) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

#[test]
fn modules_d_changes_apply_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path();
    std::fs::create_dir(etc.join("modules.d")).unwrap();
    write(
        &etc.join("metricbeat.yml"),
        "metricbeat.config.modules:\n  path: ${path.config}/modules.d/*.yml\n  reload.enabled: true\n  reload.period: 200ms\nmetricbeat.max_start_delay: 0s\noutput.console: {}\n",
    );
    // Reloading on: the agent starts with no module at all and waits for files.
    let mut child = Command::new(env!("CARGO_BIN_EXE_metricpipe"))
        .args(["agent", "--path.config"])
        .arg(etc)
        .args(["--path.data"])
        .arg(etc.join("data"))
        .args(["--cpu-window", "100ms"])
        .env("METRICPIPE_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(etc.join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let module =
        |sets: &str| format!("- module: system\n  metricsets: [{sets}]\n  period: 200ms\n");

    // Added.
    write(&etc.join("modules.d/system.yml"), &module("memory"));
    let added = wait_for(&rx, "memory", Duration::from_secs(20));
    // Changed: memory → cpu.
    write(&etc.join("modules.d/system.yml"), &module("cpu"));
    let changed = wait_for(&rx, "cpu", Duration::from_secs(20));
    let mut memory_after_change = 0;
    let settle = Instant::now() + Duration::from_secs(1);
    while let Some(left) = settle.checked_duration_since(Instant::now()) {
        if let Ok(l) = rx.recv_timeout(left) {
            memory_after_change += usize::from(l.contains("\"name\":\"memory\""));
        }
    }
    // Removed (renamed to .disabled): the events stop.
    std::fs::rename(
        etc.join("modules.d/system.yml"),
        etc.join("modules.d/system.yml.disabled"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    while rx.try_recv().is_ok() {}
    let after_removal = rx.recv_timeout(Duration::from_secs(1)).is_ok();
    child.kill().unwrap();
    let _ = child.wait();
    let log = std::fs::read_to_string(etc.join("stderr.log")).unwrap_or_default();
    assert!(
        added,
        "no memory event after adding modules.d/system.yml\n{log}"
    );
    assert!(changed, "no cpu event after changing the metricsets\n{log}");
    assert!(
        memory_after_change <= 1,
        "memory events went on after the change: {memory_after_change}"
    );
    assert!(
        !after_removal,
        "events went on after the module file was disabled"
    );
}

/// `http.enabled: true` in metricbeat.yml serves the operator endpoints on http.host:http.port.
#[test]
fn http_enabled_serves_metrics_on_the_configured_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("metricbeat.yml"),
        &format!("metricbeat.modules: [{{module: system, metricsets: [memory], period: 200ms}}]\nmetricbeat.max_start_delay: 0s\nhttp.enabled: true\nhttp.port: {port}\noutput.console: {{}}\n"),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_metricpipe"))
        .args(["agent", "--path.config"])
        .arg(dir.path())
        .arg("--path.data")
        .arg(dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut body = String::new();
    while Instant::now() < deadline && !body.contains("metricpipe_agent_events_collected_total") {
        std::thread::sleep(Duration::from_millis(200));
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = write!(
                s,
                "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            );
            body.clear();
            let _ = s.read_to_string(&mut body);
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        body.contains("metricpipe_agent_events_collected_total"),
        "{body}"
    );
}
