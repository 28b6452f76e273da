//! `add_host_metadata` end to end: the stock metricbeat.yml processors block, a fake hostfs
//! (a Rocky Linux 9 root: os-release, rocky-release, machine-id, this machine's /proc) given with
//! the packaged `--system.hostfs` flag, `metricpipe agent --once` on the console output.
//! The expected values are what go-sysinfo reports for the same root
//! (`sysinfo.Host(sysinfo.WithHostFS(root))`), and the kernel facts come from uname.

use std::path::Path;
use std::process::Command;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn rocky_root(root: &Path) {
    // The machine's own /proc, so that two cpu samples differ.
    std::fs::create_dir_all(root).unwrap();
    std::os::unix::fs::symlink("/proc", root.join("proc")).unwrap();
    write(
        root,
        "etc/os-release",
        "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n",
    );
    write(
        root,
        "etc/rocky-release",
        "Rocky Linux release 9.3 (Blue Onyx)\n",
    );
    write(root, "etc/machine-id", "ffffeeee0000111122223333aaaabbbb\n");
}

/// The stock processors block of Metricbeat's metricbeat.yml.
const CONFIG: &str = "metricbeat.modules:
- module: system
  metricsets: [cpu, memory]
  period: 10s
processors:
  - add_host_metadata:
      when.not.contains.tags: forwarded
  - add_cloud_metadata: ~
  - add_docker_metadata: ~
  - add_kubernetes_metadata: ~
output.console:
  enabled: true
";

fn uname(flag: &str) -> String {
    let out = Command::new("uname").arg(flag).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn run(dir: &Path, extra: &[&str]) -> (Vec<serde_json::Value>, String) {
    let hostfs = dir.join("hostfs");
    let out = Command::new(env!("CARGO_BIN_EXE_metricpipe"))
        .args(["agent", "-c"])
        .arg(dir.join("metricbeat.yml"))
        .arg(format!("--system.hostfs={}", hostfs.display()))
        .arg(format!("--path.data={}", dir.join("data").display()))
        .args(["--once", "--cpu-window", "300ms"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let events = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (events, stderr)
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rocky_root(&dir.path().join("hostfs"));
    std::fs::write(dir.path().join("metricbeat.yml"), CONFIG).unwrap();
    dir
}

#[test]
fn stock_processors_add_the_hostfs_host_to_cpu_and_memory_events() {
    let dir = setup();
    let (events, stderr) = run(dir.path(), &[]);
    assert_eq!(events.len(), 2, "{events:?}\n{stderr}");
    let hostname = String::from_utf8(Command::new("hostname").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    for ev in &events {
        let host = &ev["host"];
        assert_eq!(host["hostname"], hostname.as_str());
        assert_eq!(host["name"], hostname.to_lowercase().as_str());
        assert_eq!(host["architecture"], uname("-m").as_str());
        assert_eq!(host["os"]["kernel"], uname("-r").as_str());
        assert_eq!(host["os"]["type"], "linux");
        assert_eq!(host["os"]["platform"], "rocky");
        assert_eq!(host["os"]["family"], "redhat");
        assert_eq!(host["os"]["name"], "Rocky Linux");
        assert_eq!(host["os"]["version"], "9.3 (Blue Onyx)");
        assert_eq!(host["os"]["codename"], "Blue Onyx");
        assert_eq!(host["id"], "ffffeeee0000111122223333aaaabbbb");
        assert!(host["containerized"].is_boolean(), "{host}");
        assert!(host["mac"].is_array() || host["mac"].is_null(), "{host}");
    }
    let cpu = events
        .iter()
        .find(|e| e["metricset"]["name"] == "cpu")
        .unwrap();
    assert!(cpu["host"]["cpu"]["usage"].is_number(), "{cpu}");
    // The three cloud/container processors are named once each; add_host_metadata runs.
    for name in [
        "add_cloud_metadata",
        "add_docker_metadata",
        "add_kubernetes_metadata",
    ] {
        assert_eq!(stderr.matches(&format!("`{name}`")).count(), 1, "{stderr}");
    }
    assert!(!stderr.contains("`add_host_metadata`"), "{stderr}");
}

#[test]
fn the_when_condition_and_netinfo_setting_are_honoured() {
    let dir = setup();
    // Events tagged `forwarded` skip the processor (the stock condition).
    let (events, _) = run(dir.path(), &["-E", "tags=[forwarded]"]);
    for ev in &events {
        assert!(ev["host"]["os"].is_null(), "{ev}");
        assert!(ev["host"]["name"].is_string(), "{ev}");
    }
    let (events, _) = run(
        dir.path(),
        &[
            "-E",
            "processors=[{add_host_metadata: {netinfo.enabled: false}}]",
        ],
    );
    for ev in &events {
        assert_eq!(ev["host"]["os"]["platform"], "rocky");
        assert!(
            ev["host"]["ip"].is_null() && ev["host"]["mac"].is_null(),
            "{ev}"
        );
    }
}
