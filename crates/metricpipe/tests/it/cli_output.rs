//! What a user sees on the terminal, from the real binary and no broker: errors said once,
//! colour only on a terminal (never with NO_COLOR), `--log` and `RUST_LOG` in their
//! documented order, and the help examples that need no broker actually run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::runnable_examples::runnable_examples;

fn bin() -> &'static str {
    metricpipe_testkit::metricpipe_bin!()
}

fn metricpipe(dir: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("METRICPIPE_LOG")
        .env_remove("NO_COLOR");
    cmd
}

/// A directory with a metricbeat.yml that holds one setting metricpipe warns about.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("metricbeat.yml"),
        "metricbeat.modules:\n- module: system\n  metricsets: [cpu, memory]\n  period: 10s\n  \
         not_a_setting: 1\noutput.kafka:\n  hosts: [\"127.0.0.1:9092\"]\n  topic: metric.all\n",
    )
    .expect("write metricbeat.yml");
    dir
}

const CONSOLE_ONCE: [&str; 8] = [
    "agent",
    "-c",
    "metricbeat.yml",
    "--once",
    "-E",
    "output.console.enabled=true",
    "-E",
    "output.kafka.enabled=false",
];

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_missing_file_is_one_error_line_that_says_the_cause_once() {
    let dir = workdir();
    for args in [
        vec!["streams", "--config", "missing.toml"],
        vec!["agent", "-c", "missing.yml", "--once"],
    ] {
        let out = metricpipe(dir.path()).args(&args).output().expect("run");
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {text}");
        assert_eq!(text.lines().count(), 1, "{args:?}: one line: {text}");
        assert!(text.starts_with("error: "), "{text}");
        assert!(text.contains("missing."), "names the file: {text}");
        assert_eq!(
            text.matches("No such file or directory").count(),
            1,
            "{args:?}: the cause once: {text}"
        );
    }
}

#[test]
fn a_bad_toml_value_is_one_line_naming_the_key() {
    let dir = workdir();
    std::fs::write(dir.path().join("s.toml"), "[kafka]\n\"linger.ms\" = [5]\n").unwrap();
    let out = metricpipe(dir.path())
        .args(["streams", "--config", "s.toml", "--describe"])
        .output()
        .expect("run");
    let text = stderr(&out);
    assert!(!out.status.success());
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("linger.ms"), "{text}");
    assert!(!text.contains("\n."), "{text}");
}

#[test]
fn logs_into_a_pipe_have_no_colour() {
    let dir = workdir();
    let out = metricpipe(dir.path())
        .args(CONSOLE_ONCE)
        .output()
        .expect("run");
    let text = stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("WARN") && text.contains("not_a_setting"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "escape codes in a pipe: {text:?}");
}

/// Run `metricpipe agent ...` on a pseudo-terminal (util-linux `script`) and return what it
/// printed there.
fn on_a_terminal(dir: &Path, no_color: Option<&str>) -> String {
    let command = format!("{} {} >/dev/null", bin(), CONSOLE_ONCE.join(" "));
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("METRICPIPE_LOG")
        .env_remove("NO_COLOR");
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd.output().expect("run script(1)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_terminal_gets_colour_unless_no_color_is_set() {
    let dir = workdir();
    let coloured = on_a_terminal(dir.path(), None);
    assert!(coloured.contains("not_a_setting"), "{coloured:?}");
    assert!(
        coloured.contains('\u{1b}'),
        "a terminal gets colour: {coloured:?}"
    );
    let plain = on_a_terminal(dir.path(), Some("1"));
    assert!(plain.contains("not_a_setting"), "{plain:?}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR honoured: {plain:?}");
}

#[test]
fn log_flag_wins_over_rust_log_where_both_set_the_level() {
    let dir = workdir();
    let warns = |rust_log: Option<&str>, flag: Option<&str>| {
        let mut cmd = metricpipe(dir.path());
        if let Some(r) = rust_log {
            cmd.env("RUST_LOG", r);
        }
        if let Some(f) = flag {
            cmd.args(["--log", f]);
        }
        let out = cmd.args(CONSOLE_ONCE).output().expect("run");
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out).contains("not_a_setting")
    };
    assert!(warns(None, None), "the default logs warnings");
    assert!(!warns(Some("error"), None), "RUST_LOG alone applies");
    assert!(!warns(None, Some("error")), "--log alone applies");
    assert!(
        warns(Some("error"), Some("warn")),
        "--log wins over RUST_LOG"
    );
    assert!(
        !warns(Some("warn"), Some("error")),
        "--log wins over RUST_LOG"
    );
    // Directives for different targets add up: RUST_LOG silences nothing --log allows.
    assert!(warns(Some("rdkafka=off"), Some("warn")));
}

#[test]
fn an_invalid_log_filter_is_an_error_naming_it() {
    let dir = workdir();
    let out = metricpipe(dir.path())
        .args(["--log", "metricpipe=loud", "streams", "--describe"])
        .output()
        .expect("run");
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("metricpipe=loud"), "{text}");
}

#[test]
fn help_examples_that_need_no_broker_run() {
    let dir = workdir();
    let bin_dir = PathBuf::from(bin())
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let examples = runnable_examples();
    let mut ran = 0;
    for (command, example) in examples {
        // `man` is the one tool outside bash and metricpipe; a minimal machine may lack it.
        if example.contains("man -l") && !on_path("man") {
            eprintln!("skipped (no man on PATH): {example}");
            continue;
        }
        ran += 1;
        let out = Command::new("bash")
            .args(["-c", &format!("set -eo pipefail; {example}")])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("MANPAGER", "cat")
            .env("METRICPIPE_LOG", "error")
            .output()
            .expect("run bash");
        assert!(
            out.status.success(),
            "{command}: `{example}` failed: {}",
            stderr(&out)
        );
    }
    assert!(ran >= 8, "only {ran} examples ran");
    // What the redirecting examples wrote is what their shells read.
    let zsh = std::fs::read_to_string(dir.path().join("_metricpipe")).expect("zsh script");
    assert!(zsh.starts_with("#compdef metricpipe"), "{zsh}");
    let page = std::fs::read_to_string(dir.path().join("man1/metricpipe-streams.1"))
        .expect("a page per command");
    assert!(page.contains("bootstrap"), "{page}");
}

#[test]
fn only_brokers_on_this_machine_get_metricpipe_local_advice() {
    let dir = workdir();
    let run = |args: &[&str]| {
        let out = metricpipe(dir.path())
            .env("METRICPIPE_LOG", "off")
            .args(args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
        let text = stderr(&out);
        assert_eq!(text.lines().count(), 1, "{text}");
        text
    };
    // Nothing listens on port 1; `.invalid` never resolves (RFC 6761).
    let local = run(&["topics", "describe", "-b", "127.0.0.1:1", "--timeout", "2s"]);
    assert!(local.contains("metricpipe local status"), "{local}");
    let remote = run(&[
        "topics",
        "describe",
        "-b",
        "kafka.invalid:9092",
        "--timeout",
        "2s",
    ]);
    assert!(!remote.contains("metricpipe local"), "{remote}");
    let remote = run(&["tail", "metric.all", "-b", "kafka.invalid:9092"]);
    assert!(!remote.contains("metricpipe local"), "{remote}");
    assert!(remote.contains("kafka.invalid:9092"), "{remote}");
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}
