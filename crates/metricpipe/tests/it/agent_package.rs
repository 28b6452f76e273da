//! A Metricbeat package's files and its systemd unit's exact command line, with the binary
//! swapped for `metricpipe agent`: cpu and memory events reach a real cluster, `test output`
//! reports each broker, and SIGHUP stops the agent gracefully with its events flushed.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::Message;

use crate::drill_common;

fn package() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent/tests/data/package")
}

/// /etc/metricbeat, /usr/share/metricbeat, /var/lib/metricbeat, /var/log/metricbeat in a
/// temporary root, with the package's files and permissions (0640, as the unit's UMask).
struct Install {
    _root: tempfile::TempDir,
    etc: PathBuf,
    home: PathBuf,
    data: PathBuf,
    logs: PathBuf,
}

fn install() -> Install {
    let root = tempfile::tempdir().unwrap();
    let [etc, home, data, logs] = ["etc", "home", "data", "logs"].map(|d| root.path().join(d));
    for d in [&etc, &home, &data, &logs] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::create_dir(etc.join("modules.d")).unwrap();
    for f in [
        "metricbeat.yml",
        "modules.d/system.yml",
        "modules.d/kafka.yml.disabled",
    ] {
        std::fs::copy(package().join(f), etc.join(f)).unwrap();
        std::fs::set_permissions(etc.join(f), std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    Install {
        _root: root,
        etc,
        home,
        data,
        logs,
    }
}

/// The unit's `ExecStart` after `$BEAT_LOG_OPTS $BEAT_CONFIG_OPTS $BEAT_PATH_OPTS` expand
/// (elastic/beats dev-tools/packaging/templates/linux/systemd.unit.tmpl).
fn unit_args(i: &Install) -> Vec<String> {
    let p = |p: &Path| p.display().to_string();
    vec![
        "agent".into(),
        "-environment".into(),
        "systemd".into(),
        "-c".into(),
        p(&i.etc.join("metricbeat.yml")),
        "-path.home".into(),
        p(&i.home),
        "-path.config".into(),
        p(&i.etc),
        "-path.data".into(),
        p(&i.data),
        "-path.logs".into(),
        p(&i.logs),
    ]
}

fn spawn(args: &[String], bootstrap: &str, topic: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_metricpipe"))
        .args(args)
        .env("KAFKA_HOSTS", bootstrap)
        .env("KAFKA_TOPIC", topic)
        .env("METRICPIPE_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The metricset names in `topic` once both cpu and memory are there, or at `timeout`.
fn metricsets_seen(bootstrap: &str, topic: &str, timeout: Duration) -> Vec<String> {
    let mut seen = Vec::new();
    drill_common::wait_until(timeout, || {
        seen.clear();
        drill_common::read_topic(bootstrap, topic, Duration::from_secs(15), |m| {
            let v: serde_json::Value =
                serde_json::from_slice(m.payload().unwrap_or_default()).unwrap();
            assert_eq!(v["event"]["module"], "system", "{v}");
            seen.push(v["metricset"]["name"].as_str().unwrap_or("").to_string());
        });
        seen.iter().any(|s| s == "cpu") && seen.iter().any(|s| s == "memory")
    });
    seen
}

#[test]
fn packaged_unit_command_line_ships_cpu_and_memory_and_sighup_flushes() {
    let cluster = metricpipe_testkit::shared_cluster();
    let bootstrap = cluster.bootstrap_servers();
    let topic = "package.unit";
    drill_common::create_topics(&bootstrap, &[topic], &[]);
    let install = install();
    let args = unit_args(&install);

    // `test output` with the same flags reaches every broker and writes nothing.
    let mut test_args = args.clone();
    test_args.extend(["test".into(), "output".into()]);
    let out = spawn(&test_args, &bootstrap, topic)
        .wait_with_output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.matches("talk to server... OK").count(),
        bootstrap.split(',').count(),
        "{stdout}"
    );

    let mut agent = spawn(&args, &bootstrap, topic);
    // max_start_delay is Metricbeat's default 10 s, so the first events take up to ~12 s.
    let seen = metricsets_seen(&bootstrap, topic, Duration::from_secs(60));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(agent.id() as i32, libc::SIGHUP) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = agent.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not stop on SIGHUP"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    agent
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let stderr = drill_common::strip_ansi(&stderr);
    assert!(
        seen.contains(&"cpu".into()) && seen.contains(&"memory".into()),
        "saw {seen:?}\n{stderr}"
    );
    assert!(status.success(), "exit {status:?} on SIGHUP\n{stderr}");
    assert!(
        stderr.contains("SIGHUP") && stderr.contains("agent stopped"),
        "{stderr}"
    );
    // The stock system.yml's other metricsets are named once each, and the agent runs.
    for set in ["system/load", "system/process_summary", "system/uptime"] {
        assert_eq!(stderr.matches(set).count(), 1, "{set}:\n{stderr}");
    }
    // Everything sent was acknowledged before exit: no queued event is left behind.
    assert!(
        stderr.contains("dropped=0") && stderr.contains("queued=0") && !stderr.contains("sent=0"),
        "{stderr}"
    );
    assert!(install.data.join("meta.json").exists());
    assert!(install.logs.exists() && install.home.exists());
}
