//! `metricpipe streams --dry-run` and `--describe`: no broker involved.

use std::io::Write;
use std::process::{Command, Stdio};

fn streams(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_metricpipe"))
        .arg("streams")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn dry_run_prints_outputs_and_goes_on_after_bad_lines() {
    let cpu = r#"{"@timestamp":"T","metricset":{"name":"cpu"},"host":{"name":"web-1"},"system":{"cpu":{"total":{"norm":{"pct":0.91}}}}}"#;
    let memory = r#"{"metricset":{"name":"memory"},"system":{"memory":{"total":1}}}"#;
    let input = format!("{cpu}\nnot json\n\n\u{0}\n{memory}\n");
    let mut bytes = input.into_bytes();
    // A non-UTF-8 line.
    bytes.extend_from_slice(b"{\"metricset\":{\"name\":\"\xff\"}}\n");
    let out = streams(&["--dry-run"], &bytes);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        format!(
            "metric.cpu\t{cpu}\nmetric.cpu.alert\t{{\"name\":\"web-1\",\"timestamp\":\"T\"}}\nmetric.memory\t{memory}\n"
        )
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: not-json"), "{stderr}");
    assert!(stderr.contains("line 4: not-json"), "{stderr}");
    assert!(stderr.contains("line 6: not-utf8"), "{stderr}");
}

#[test]
fn dry_run_honours_threshold_and_topic_flags() {
    let cpu = r#"{"@timestamp":"T","metricset":{"name":"cpu"},"host":{"name":"h"},"system":{"cpu":{"total":{"norm":{"pct":0.91}}}}}"#;
    let out = streams(
        &["--dry-run", "--threshold", "0.95", "--cpu-topic", "c"],
        format!("{cpu}\n").as_bytes(),
    );
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("c\t{cpu}\n")
    );
}

#[test]
fn describe_prints_the_kafka_streams_description() {
    let out = streams(&["--describe"], b"");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let head = "Topologies:\n   Sub-topology: 0\n    \
                Source: KSTREAM-SOURCE-0000000000 (topics: [metric.all])\n";
    assert!(text.starts_with(head), "{text}");
    assert!(
        text.contains("Sink: KSTREAM-SINK-0000000008 (topic: metric.cpu.alert)"),
        "{text}"
    );
}

#[test]
fn no_brokers_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_metricpipe"))
        .arg("streams")
        .env_remove("METRICPIPE_BOOTSTRAP_SERVERS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bootstrap-servers"));
}

fn streams_no_broker(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_metricpipe"))
        .arg("streams")
        .args(args)
        .env_remove("METRICPIPE_BOOTSTRAP_SERVERS")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_java_apps_properties_file_loads_with_one_warning_per_ignored_key() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/streams.properties");
    let (ok, stderr) = streams_no_broker(&["--config", file, "--describe"]);
    assert!(ok, "{stderr}");
    for key in [
        "`state.dir`",
        "`replication.factor`",
        "`consumer.max.poll.records`",
    ] {
        assert_eq!(stderr.matches(key).count(), 1, "{key}: {stderr}");
    }
    assert_eq!(stderr.matches("WARN").count(), 3, "{stderr}");
}

#[test]
fn a_bad_properties_value_or_x_key_names_the_key_and_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streams.properties");
    std::fs::write(&path, "application.id=app\nnum.stream.threads=two\n").unwrap();
    let (ok, stderr) = streams_no_broker(&["--config", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("`num.stream.threads`") && stderr.contains("num.stream.threads=2"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    let (ok, stderr) = streams_no_broker(&["-b", "127.0.0.1:1", "-X", "commit.interval.ms=soon"]);
    assert!(!ok);
    assert!(
        stderr.contains("-X") && stderr.contains("`commit.interval.ms`"),
        "{stderr}"
    );
    assert!(!stderr.contains("librdkafka"), "{stderr}");

    let (ok, stderr) = streams_no_broker(&[
        "-b",
        "127.0.0.1:1",
        "-X",
        "commit.interval.ms=1000",
        "--commit-interval",
        "1s",
    ]);
    assert!(!ok);
    assert!(stderr.contains("--commit-interval"), "{stderr}");

    let (ok, stderr) = streams_no_broker(&[
        "-b",
        "127.0.0.1:1",
        "-X",
        "processing.guarantee=at_least_once",
        "--processing-guarantee",
        "at_least_once",
    ]);
    assert!(!ok);
    assert!(stderr.contains("--processing-guarantee"), "{stderr}");
}

#[test]
fn a_properties_file_without_its_extension_is_told_by_content_or_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("streams.conf");
    std::fs::write(
        &good,
        "# the Java app's\napplication.id=app\nstate.dir=/tmp/x\n",
    )
    .unwrap();
    let (ok, stderr) = streams_no_broker(&["--config", good.to_str().unwrap(), "--describe"]);
    assert!(ok && stderr.contains("`state.dir`"), "{stderr}");
    let odd = dir.path().join("odd.conf");
    std::fs::write(&odd, "acks=all\n").unwrap();
    let (ok, stderr) = streams_no_broker(&["--config", odd.to_str().unwrap(), "--describe"]);
    assert!(!ok);
    assert!(stderr.contains(".properties extension"), "{stderr}");
}
