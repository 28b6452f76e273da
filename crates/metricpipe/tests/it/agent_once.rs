//! `metricpipe agent --once` against served /proc samples: the numbers equal Metricbeat's
//! own (the oracle), `proc/stat` is read exactly twice and `proc/meminfo` once.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

fn oracle(sample: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../collect/tests/data/metricbeat-oracle")
        .join(sample)
}

/// Serve `contents` through the FIFO at `path`, one open per item. Returns how many reads
/// were served.
fn serve(path: PathBuf, contents: Vec<Vec<u8>>) -> JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut served = 0;
        for body in contents {
            let deadline = Instant::now() + Duration::from_secs(20);
            // A non-blocking open for writing succeeds only while a reader has it open.
            let file = loop {
                match std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&path)
                {
                    Ok(f) => break Some(f),
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(2))
                    }
                    Err(_) => break None,
                }
            };
            let Some(mut file) = file else { break };
            file.write_all(&body).unwrap();
            drop(file);
            served += 1;
            // Let the reader reach EOF and close before the next sample is offered.
            std::thread::sleep(Duration::from_millis(300));
        }
        served
    })
}

struct Served {
    root: tempfile::TempDir,
    stat: JoinHandle<usize>,
    meminfo: JoinHandle<usize>,
}

fn serve_sample(before: &Path, after: &Path) -> Served {
    let root = tempfile::tempdir().unwrap();
    let proc_dir = root.path().join("proc");
    std::fs::create_dir(&proc_dir).unwrap();
    std::fs::write(proc_dir.join("cpuinfo"), "").unwrap();
    for name in ["stat", "meminfo"] {
        let status = Command::new("mkfifo")
            .arg(proc_dir.join(name))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let read = |p: &Path| std::fs::read(p).unwrap();
    let stat = serve(
        proc_dir.join("stat"),
        vec![
            read(&before.join("proc/stat")),
            read(&after.join("proc/stat")),
        ],
    );
    let meminfo = serve(
        proc_dir.join("meminfo"),
        vec![read(&after.join("proc/meminfo"))],
    );
    Served {
        root,
        stat,
        meminfo,
    }
}

fn write_config(dir: &Path, module_extra: &str) -> PathBuf {
    let path = dir.join("metricbeat.yml");
    std::fs::write(
        &path,
        format!("metricbeat.modules:\n- module: system\n  metricsets: [cpu, memory]\n  period: 10s\n{module_extra}output.console:\n  enabled: true\n"),
    )
    .unwrap();
    path
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run_agent(args: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_metricpipe"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the agent hung (a third read of proc/stat?): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn events(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn by_metricset<'a>(evs: &'a [serde_json::Value], name: &str) -> Option<&'a serde_json::Value> {
    evs.iter().find(|e| e["metricset"]["name"] == name)
}

/// How a test points the agent at the served root.
enum Hostfs {
    Flag,
    Module,
    Override,
}

fn check_oracle(sample: &str, how: Hostfs) {
    let dir = oracle(sample);
    let served = serve_sample(&dir.join("before"), &dir.join("after"));
    let root = served.root.path().to_str().unwrap().to_string();
    let conf_dir = tempfile::tempdir().unwrap();
    let module_extra = match how {
        Hostfs::Module => format!("  hostfs: \"{root}\"\n"),
        _ => String::new(),
    };
    let config = write_config(conf_dir.path(), &module_extra);
    let data = conf_dir.path().join("data");
    let mut args = vec![
        "agent".to_string(),
        "-e".into(),
        "-c".into(),
        config.to_str().unwrap().into(),
        "-path.data".into(),
        data.to_str().unwrap().into(),
        "--once".into(),
    ];
    match how {
        Hostfs::Flag => args.push(format!("-system.hostfs={root}")),
        Hostfs::Module => {}
        Hostfs::Override => {
            args.push("-E".into());
            args.push(format!(
                "metricbeat.modules=[{{module: system, hostfs: '{root}'}}]"
            ));
        }
    }
    let run = run_agent(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(
        served.stat.join().unwrap(),
        2,
        "proc/stat must be read exactly twice"
    );
    assert_eq!(
        served.meminfo.join().unwrap(),
        1,
        "proc/meminfo must be read once"
    );

    let evs = events(&run.stdout);
    assert_eq!(evs.len(), 2, "{}", run.stdout);
    let cpu = by_metricset(&evs, "cpu").unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected-cpu.json")).unwrap())
            .unwrap();
    assert_eq!(cpu["system"], want["system"], "{sample}: cpu");
    assert_eq!(
        cpu["host"]["cpu"], want["host"]["cpu"],
        "{sample}: host.cpu"
    );
    let memory = by_metricset(&evs, "memory").unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected-memory.json")).unwrap())
            .unwrap();
    assert_eq!(memory["system"], want["system"], "{sample}: memory");
    for line in run.stdout.lines() {
        assert!(line.starts_with(r#"{"@timestamp":""#), "{line}");
    }
}

#[test]
fn once_with_hostfs_flag_matches_oracle_sample_1() {
    check_oracle("sample-1", Hostfs::Flag);
}

#[test]
fn once_with_module_hostfs_matches_oracle_sample_2() {
    check_oracle("sample-2", Hostfs::Module);
}

#[test]
fn once_with_override_hostfs_matches_oracle_negative_total() {
    check_oracle("negative-total", Hostfs::Override);
}

#[test]
fn identical_samples_give_no_cpu_event_and_one_warning() {
    let dir = oracle("sample-1");
    let served = serve_sample(&dir.join("after"), &dir.join("after"));
    let conf_dir = tempfile::tempdir().unwrap();
    let config = write_config(conf_dir.path(), "");
    let hostfs = format!("--system.hostfs={}", served.root.path().display());
    let data = format!("--path.data={}", conf_dir.path().join("data").display());
    let run = run_agent(&[
        "agent",
        "-c",
        config.to_str().unwrap(),
        &hostfs,
        &data,
        "--once",
    ]);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(served.stat.join().unwrap(), 2);
    let evs = events(&run.stdout);
    assert!(by_metricset(&evs, "cpu").is_none(), "{}", run.stdout);
    assert!(by_metricset(&evs, "memory").is_some(), "{}", run.stdout);
    assert_eq!(
        run.stderr.matches("skipping this cpu sample").count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_hostfs_names_the_path() {
    let conf_dir = tempfile::tempdir().unwrap();
    let config = write_config(conf_dir.path(), "");
    let data = format!("--path.data={}", conf_dir.path().join("data").display());
    let run = run_agent(&[
        "agent",
        "-c",
        config.to_str().unwrap(),
        "-system.hostfs=/no/such/hostfs",
        &data,
        "--once",
    ]);
    assert!(!run.ok);
    assert!(run.stderr.contains("/no/such/hostfs"), "{}", run.stderr);
    let empty = tempfile::tempdir().unwrap();
    let flag = format!("-system.hostfs={}", empty.path().display());
    let run = run_agent(&[
        "agent",
        "-c",
        config.to_str().unwrap(),
        &flag,
        &data,
        "--once",
    ]);
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains(&format!("{}/proc/stat", empty.path().display())),
        "{}",
        run.stderr
    );
}

#[test]
fn config_errors_name_the_key_and_path_config_resolves_c() {
    let conf_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        conf_dir.path().join("metricbeat.yml"),
        "metricbeat.modules: [{module: system, period: ten}]\noutput.console: {}\n",
    )
    .unwrap();
    let dir = conf_dir.path().to_str().unwrap();
    let run = run_agent(&["agent", "-path.config", dir, "--once"]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("metricbeat.modules.0.period"),
        "{}",
        run.stderr
    );
    let run = run_agent(&["agent", "--path.config", dir, "-c", "missing.yml", "--once"]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains(&format!("{dir}/missing.yml")),
        "{}",
        run.stderr
    );
}
