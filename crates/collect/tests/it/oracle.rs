//! Metricbeat's own numbers (elastic-agent-system-metrics v0.14.3) on known /proc inputs:
//! every value must be equal, not close.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use metricpipe_collect::{
    cpu_event, cpu_usage, memory_event, BeatInfo, CpuMetrics, EventContext, Memory, ProcRoot,
};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn beat() -> BeatInfo {
    BeatInfo {
        beat: "metricbeat".into(),
        version: "0.1.0".into(),
        id: "id".into(),
        ephemeral_id: "eph".into(),
        name: "web-1".into(),
        ecs_version: "8.0.0".into(),
    }
}

fn parse(json: &str) -> serde_json::Value {
    serde_json::from_str(json).unwrap()
}

fn check_sample(name: &str) {
    let dir = data(&format!("metricbeat-oracle/{name}"));
    let before = ProcRoot::new(dir.join("before")).unwrap();
    let after = ProcRoot::new(dir.join("after")).unwrap();
    let beat = beat();
    let ctx = EventContext {
        beat: &beat,
        period: Duration::from_secs(10),
        fields: None,
        fields_under_root: false,
        tags: &[],
    };

    let usage = cpu_usage(&before.cpu_sample().unwrap(), &after.cpu_sample().unwrap()).unwrap();
    let ev = parse(
        &cpu_event(
            &ctx,
            SystemTime::now(),
            Duration::ZERO,
            &usage,
            CpuMetrics::default(),
        )
        .to_json(),
    );
    let ours = serde_json::json!({
        "host": {"cpu": ev["host"]["cpu"].clone()},
        "system": ev["system"].clone(),
    });
    let want = parse(&std::fs::read_to_string(dir.join("expected-cpu.json")).unwrap());
    assert_eq!(ours, want, "{name}: cpu");

    let mem = Memory::from_meminfo(&after.meminfo().unwrap());
    let ev = parse(&memory_event(&ctx, SystemTime::now(), Duration::ZERO, &mem).to_json());
    let want = parse(&std::fs::read_to_string(dir.join("expected-memory.json")).unwrap());
    assert_eq!(
        serde_json::json!({"system": ev["system"].clone()}),
        want,
        "{name}: memory"
    );
}

#[test]
fn oracle_sample_1() {
    check_sample("sample-1");
}

#[test]
fn oracle_sample_2() {
    check_sample("sample-2");
}

#[test]
fn oracle_negative_total() {
    check_sample("negative-total");
}

#[test]
fn missing_root_and_missing_stat_name_the_path() {
    let err = ProcRoot::new("/nonexistent/hostfs")
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/hostfs"), "{err}");
    let empty = data("metricbeat-oracle");
    let err = ProcRoot::new(&empty).unwrap_err().to_string();
    assert!(err.contains("metricbeat-oracle/proc/stat"), "{err}");
}
