//! Drill 6 (docs/RELIABILITY.md): hostile config files and arguments to the real binary.
//! Each one gives a clear error that names the key (or file, or flag), a non-zero exit, and
//! never a panic. No broker is needed: every case fails before connecting.
//! Streams with unreachable brokers must *not* exit: see `drill_outage.rs`.
//!
//! `cargo test -p metricpipe --test it drill_hostile -- --nocapture`

use crate::drill_common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use drill_common::{strip_ansi, BIN};

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary in `dir`; panics if it does not exit within 20 s.
fn run(dir: &Path, args: &[&str]) -> Outcome {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn metricpipe");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "`metricpipe {}` did not exit within 20 s\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: strip_ansi(&String::from_utf8_lossy(&out.stderr)),
    }
}

const MODULES: &str =
    "metricbeat.modules:\n- module: system\n  metricsets: [cpu, memory]\n  period: 1s\n";
const KAFKA: &str = "output.kafka:\n  hosts: [\"127.0.0.1:1\"]\n  topic: metric.all\n";

/// (name, file contents or None for no file, extra args, what stderr must say).
type Case = (
    &'static str,
    Option<String>,
    Vec<&'static str>,
    Vec<&'static str>,
);

fn agent_cases() -> Vec<Case> {
    vec![
        ("missing file", None, vec![], vec!["missing.yml", "-c FILE"]),
        (
            "bad YAML",
            Some("output.kafka:\n  hosts: [\n".into()),
            vec![],
            vec!["not valid YAML", "line 3"],
        ),
        (
            // Written as bytes 00 FF FE below.
            "not UTF-8",
            Some(String::new()),
            vec![],
            vec!["UTF-8"],
        ),
        (
            "empty file",
            Some(String::new()),
            vec![],
            vec!["`metricbeat.modules`"],
        ),
        (
            "empty hosts list",
            Some(format!(
                "{MODULES}output.kafka:\n  hosts: []\n  topic: metric.all\n"
            )),
            vec![],
            vec!["`output.kafka.hosts`"],
        ),
        (
            "negative period",
            Some(format!("{}{KAFKA}", MODULES.replace("1s", "-5s"))),
            vec![],
            vec!["`metricbeat.modules.0.period`", "negative"],
        ),
        (
            "period not a duration",
            Some(format!("{}{KAFKA}", MODULES.replace("1s", "often"))),
            vec![],
            vec!["`metricbeat.modules.0.period`", "\"10s\""],
        ),
        (
            "unsupported metricset only",
            Some(format!("{}{KAFKA}", MODULES.replace("cpu, memory", "disk"))),
            vec![],
            vec!["`metricbeat.modules`", "cpu or memory"],
        ),
        (
            "required_acks out of range",
            Some(format!("{MODULES}{KAFKA}  required_acks: 5\n")),
            vec![],
            vec!["`output.kafka.required_acks`"],
        ),
        (
            "negative queue size",
            Some(format!("{MODULES}{KAFKA}queue.mem.events: -1\n")),
            vec![],
            vec!["`queue.mem.events`"],
        ),
        (
            "empty topic",
            Some(format!(
                "{MODULES}output.kafka:\n  hosts: [\"127.0.0.1:1\"]\n  topic: ''\n"
            )),
            vec![],
            vec!["`output.kafka.topic`"],
        ),
        (
            "malformed -E",
            Some(format!("{MODULES}{KAFKA}")),
            vec!["-E", "output.kafka.hosts=[a"],
            vec!["-E \"output.kafka.hosts=[a\"", "key=value", "']' missing"],
        ),
    ]
}

fn assert_clear_failure(what: &str, out: &Outcome, must_say: &[&str]) {
    assert!(
        !out.stderr.contains("panicked") && !out.stderr.contains("RUST_BACKTRACE"),
        "{what}: panicked\n{}",
        out.stderr
    );
    assert!(
        matches!(out.code, Some(c) if c != 0),
        "{what}: exit {:?}, want a non-zero exit\n{}",
        out.code,
        out.stderr
    );
    for s in must_say {
        assert!(
            out.stderr.contains(s),
            "{what}: the error does not say {s:?}:\n{}",
            out.stderr
        );
    }
}

#[test]
fn hostile_agent_configs_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (name, contents, extra, must_say) in agent_cases() {
        let file = format!("case{checked}.yml");
        let path = match contents {
            Some(text) => {
                let bytes = if name == "not UTF-8" {
                    b"\x00\xff\xfe garbage".to_vec()
                } else {
                    text.into_bytes()
                };
                std::fs::write(dir.path().join(&file), bytes).unwrap();
                file
            }
            None => "missing.yml".to_string(),
        };
        let mut args = vec!["agent", "-c", &path];
        args.extend(extra);
        let out = run(dir.path(), &args);
        assert_clear_failure(&format!("agent, {name}"), &out, &must_say);
        eprintln!(
            "DRILL hostile agent {name:?}: exit {:?}: {}",
            out.code,
            out.stderr.lines().last().unwrap_or("")
        );
        checked += 1;
    }
    eprintln!("DRILL hostile: {checked} agent configs refused with a named key, no panic");
}

/// Metricbeat ignores settings it does not know, and metricbeat.yml files carry many that
/// metricpipe does not implement (logging.*, processors, ...): the agent warns and names
/// each one, and runs.
#[test]
fn unknown_agent_keys_are_named_in_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let yml = format!(
        "{}  bogus_key: 1\noutput.console:\n  enabled: true\nfoo.bar: 1\n",
        MODULES.replace("cpu, memory", "memory")
    );
    std::fs::write(dir.path().join("m.yml"), yml).unwrap();
    let out = run(dir.path(), &["agent", "-c", "m.yml", "--once"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for key in ["`foo.bar`", "`metricbeat.modules.0.bogus_key`"] {
        assert!(
            out.stderr.contains(key),
            "no warning names {key}:\n{}",
            out.stderr
        );
    }
    assert!(out.stdout.contains("\"memory\""), "{}", out.stdout);
}

#[test]
fn hostile_streams_arguments_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "threshold = \"x\"\n").unwrap();
    std::fs::write(dir.path().join("typo.toml"), "thresold = 0.5\n").unwrap();
    std::fs::write(dir.path().join("broken.toml"), "[topics\ninput = 1\n").unwrap();
    let b = ["--bootstrap-servers", "127.0.0.1:1"];
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        (
            "threshold not a number",
            vec!["--threshold", "abc"],
            vec!["--threshold"],
        ),
        (
            "threshold NaN",
            vec!["--threshold", "NaN"],
            vec!["--threshold"],
        ),
        (
            "zero commit interval",
            vec!["--commit-interval", "0s"],
            vec!["--commit-interval"],
        ),
        (
            "negative commit interval",
            vec!["--commit-interval=-1s"],
            vec!["--commit-interval"],
        ),
        ("bad -X", vec!["-X", "linger.ms"], vec!["KEY=VALUE"]),
        (
            "missing config",
            vec!["--config", "missing.toml"],
            vec!["missing.toml"],
        ),
        (
            "wrong type in config",
            vec!["--config", "bad.toml"],
            vec!["threshold"],
        ),
        (
            "unknown config key",
            vec!["--config", "typo.toml"],
            vec!["thresold"],
        ),
        (
            "broken TOML",
            vec!["--config", "broken.toml"],
            vec!["broken.toml"],
        ),
    ];
    for (name, extra, must_say) in &cases {
        let mut args = vec!["streams"];
        args.extend(b);
        args.extend(extra);
        let out = run(dir.path(), &args);
        assert_clear_failure(&format!("streams, {name}"), &out, must_say);
        eprintln!(
            "DRILL hostile streams {name:?}: exit {:?}: {}",
            out.code,
            out.stderr
                .lines()
                .find(|l| l.contains("error"))
                .unwrap_or("")
        );
    }
    let out = run(dir.path(), &["streams"]);
    assert_clear_failure("streams, no brokers", &out, &["--bootstrap-servers"]);
    for (name, args, must) in [
        (
            "rate 0",
            vec!["loadgen", "--rate", "0", "--count", "1"],
            "--rate",
        ),
        (
            "hot share 2",
            vec!["loadgen", "--count", "1", "--hot-share", "2"],
            "--hot-share",
        ),
    ] {
        let mut args = args;
        args.extend(["-b", "127.0.0.1:1"]);
        let out = run(dir.path(), &args);
        assert_clear_failure(&format!("loadgen, {name}"), &out, &[must]);
    }
    eprintln!(
        "DRILL hostile: {} streams and 2 loadgen arguments refused with a named key, no panic",
        cases.len() + 1
    );
}

/// Kafka topic names: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`. Found by this drill:
/// before the check, a typo ran forever delivering nothing.
#[test]
fn illegal_topic_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.yml"),
        format!("{MODULES}output.kafka:\n  hosts: [\"127.0.0.1:1\"]\n  topic: 'metric all!'\n"),
    )
    .unwrap();
    let out = run(dir.path(), &["agent", "-c", "t.yml"]);
    assert_clear_failure("agent, illegal topic", &out, &["`output.kafka.topic`"]);
    for flag in ["--input-topic", "--cpu-topic", "--dlq-topic"] {
        let out = run(
            dir.path(),
            &[
                "streams",
                "--bootstrap-servers",
                "127.0.0.1:1",
                flag,
                "bad topic",
            ],
        );
        assert_clear_failure(&format!("streams, illegal {flag}"), &out, &[flag]);
    }
}
