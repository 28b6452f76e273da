//! `logging.*`, `-e`, `-d` and `--environment` end to end with `metricpipe agent --once` on
//! the console output: ECS JSON files rotated by size and at startup with `keepfiles` and
//! `permissions`, `-e` winning over files, the environment's stderr default, per-selector
//! debug logs.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// Five settings metricpipe does not have: five warnings to log. The rename of a missing
/// field makes the processors log a debug line on every event.
const BASE: &str = "metricbeat.modules:
- module: system
  metricsets: [memory]
  period: 10s
processors:
  - rename: {fields: [{from: no.such.field, to: other}]}
setup.kibana.host: 'kibana:5601'
setup.dashboards.enabled: true
monitoring.enabled: false
queue.mem.flush.timeout: 1s
ilm.enabled: false
output.console:
  enabled: true
";

fn agent(dir: &Path, extra_yaml: &str, args: &[&str]) -> (String, String) {
    std::fs::write(dir.join("metricbeat.yml"), format!("{BASE}{extra_yaml}")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_metricpipe"))
        .arg("agent")
        .arg(format!("--path.home={}", dir.display()))
        .args(["--once", "--cpu-window", "10ms"])
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("METRICPIPE_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

fn log_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = match std::fs::read_dir(dir) {
        Ok(r) => r.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

#[test]
fn files_are_ecs_json_rotated_by_size_and_at_startup_within_keepfiles() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("mylogs");
    let yaml = format!(
        "logging:\n  to_files: true\n  files:\n    path: {}\n    name: agentlog\n    keepfiles: 2\n    permissions: 0640\n    rotateeverybytes: 700\n",
        logs.display()
    );
    let (stdout, stderr) = agent(tmp.path(), &yaml, &[]);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    // Nothing is logged to stderr while files are on.
    assert!(stderr.trim().is_empty(), "{stderr}");
    let files = log_files(&logs);
    // Five warnings of a few hundred bytes each do not fit in 700 bytes: rotated, and
    // only keepfiles (2) rotated files stay besides the active one.
    assert_eq!(files.len(), 3, "{files:?}");
    let mut warnings = 0;
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("agentlog-") && name.ends_with(".ndjson"),
            "{name}"
        );
        let mode = std::fs::metadata(f).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640, "{name}");
        let text = std::fs::read_to_string(f).unwrap();
        assert!(text.len() <= 700, "{name}: {} bytes", text.len());
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v["@timestamp"].as_str().unwrap().ends_with('Z'), "{line}");
            assert!(
                v["log.logger"].is_string() && v["message"].is_string(),
                "{line}"
            );
            assert_eq!(v["service.name"], "metricbeat");
            if v["log.level"] == "warn" {
                warnings += 1;
            }
        }
    }
    assert!(warnings >= 1, "{files:?}");

    // A second start rotates the active file (rotateonstartup), still within keepfiles.
    agent(tmp.path(), &yaml, &[]);
    assert_eq!(log_files(&logs).len(), 3);
}

#[test]
fn dash_e_wins_over_files_and_systemd_defaults_to_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let yaml = "logging.to_files: true\n";
    let (_, stderr) = agent(tmp.path(), yaml, &["-e"]);
    assert!(stderr.contains("setup.kibana.host"), "{stderr}");
    assert!(log_files(&logs).is_empty());

    // The packaged unit's --environment systemd logs to stderr with no logging section;
    // logging.json: true makes those lines ECS JSON too.
    let (_, stderr) = agent(
        tmp.path(),
        "logging.json: true\n",
        &["--environment", "systemd"],
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("setup.kibana.host"))
        .unwrap_or_else(|| panic!("{stderr}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["log.level"], "warn");
    assert!(log_files(&logs).is_empty());

    // logging.level: error hides the warnings.
    let (_, stderr) = agent(tmp.path(), "logging.level: error\n", &[]);
    assert!(!stderr.contains("setup.kibana.host"), "{stderr}");
}

#[test]
fn debug_selectors_choose_which_debug_lines_show() {
    let tmp = tempfile::tempdir().unwrap();
    let debug_line = "a processor failed on an event";
    let (_, stderr) = agent(tmp.path(), "", &["-e", "-d", "publisher,processors"]);
    assert!(stderr.contains(debug_line), "{stderr}");
    let (_, stderr) = agent(tmp.path(), "", &["-e", "-d", "kafka"]);
    assert!(!stderr.contains(debug_line), "{stderr}");
    let (_, stderr) = agent(
        tmp.path(),
        "logging: {level: debug, selectors: [processors]}\n",
        &[],
    );
    assert!(stderr.contains(debug_line), "{stderr}");
    let (_, stderr) = agent(tmp.path(), "", &["-d", "no-such-selector"]);
    assert!(stderr.contains("no-such-selector"), "{stderr}");
}
