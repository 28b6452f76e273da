//! Parsers on real /proc samples, and field-path compatibility with Metricbeat's example events.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use metricpipe_collect::{
    cpu_event, cpu_usage, memory_event, parse_meminfo, parse_stat, BeatInfo, CpuMetrics, CpuSample,
    EventContext, Map, Memory,
};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(data(rel)).unwrap()
}

fn beat() -> BeatInfo {
    BeatInfo {
        beat: "metricbeat".into(),
        version: "0.1.0".into(),
        id: "1c1f4e0a-0000-4000-8000-000000000001".into(),
        ephemeral_id: "1c1f4e0a-0000-4000-8000-000000000002".into(),
        name: "web-1".into(),
        ecs_version: "8.0.0".into(),
    }
}

#[test]
fn stat_sample_parses() {
    let s = parse_stat(&read("proc-stat-sample.txt")).unwrap();
    assert_eq!(s.cores, 4);
    assert_eq!(s.times.user, 2_277_627);
    assert_eq!(s.times.system, 1_464_379);
    assert_eq!(s.times.idle, 1_303_119_903);
    assert_eq!(s.times.iowait, 200_372);
    assert_eq!(s.times.softirq, 27_401);
    assert_eq!(s.times.steal, 0);
}

#[test]
fn meminfo_sample_gives_metricbeat_values() {
    let m = Memory::from_meminfo(&parse_meminfo(&read("proc-meminfo-sample.txt")));
    assert_eq!(m.total, Some(4_042_048 * 1024));
    assert_eq!(m.free, Some(2_551_468 * 1024));
    assert_eq!(m.cached, Some(1_248_984 * 1024));
    assert_eq!(m.used_bytes, (4_042_048 - 2_551_468) * 1024);
    assert_eq!(m.actual_free, 3_651_940 * 1024);
    assert_eq!(m.actual_used_bytes, (4_042_048 - 3_651_940) * 1024);
    // 1490580 / 4042048 = 0.36877… and 390108 / 4042048 = 0.09651…
    assert_eq!(m.used_pct, Some(0.3688));
    assert_eq!(m.actual_used_pct, Some(0.0965));
    assert_eq!(m.swap_used_bytes, Some(0));
    assert_eq!(m.swap_used_pct, Some(0.0));
}

#[test]
fn first_event_since_boot_matches_hand_computation() {
    // Metricbeat's first event compares against an all-zero sample.
    let cur = parse_stat(&read("proc-stat-sample.txt")).unwrap();
    let zero = CpuSample {
        cores: cur.cores,
        ..CpuSample::default()
    };
    let u = cpu_usage(&zero, &cur).unwrap();
    // idle 1303119903 / 1307089682 = 0.99696…, user 0.0017425…, iowait 0.000153…
    assert_eq!(u.state("idle").unwrap().norm, 0.997);
    assert_eq!(u.state("user").unwrap().norm, 0.0017);
    assert_eq!(u.state("iowait").unwrap().norm, 0.0002);
    assert_eq!(u.total.norm, 0.0028);
    assert!(u.total.norm > 0.0 && u.total.norm < 0.01, "{:?}", u.total);
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
        serde_json::Value::Null => "null",
    }
}

fn leaves(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, &'static str)>) {
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&p, v, out);
            }
        }
        other => out.push((prefix.to_string(), json_type(other))),
    }
}

/// 7.x examples call `host.cpu.usage` by its old name.
fn modern_path(path: &str) -> &str {
    match path {
        "host.cpu.pct" => "host.cpu.usage",
        p => p,
    }
}

fn assert_covers(fixture: &str, ours: &Map) {
    let want: serde_json::Value = serde_json::from_str(&read(fixture)).unwrap();
    let ours: serde_json::Value = serde_json::from_str(&ours.to_json()).unwrap();
    let mut want_leaves = Vec::new();
    leaves("", &want, &mut want_leaves);
    let mut our_leaves = Vec::new();
    leaves("", &ours, &mut our_leaves);
    assert!(want_leaves.len() > 10);
    for (path, ty) in want_leaves {
        let path = modern_path(&path);
        let found = our_leaves.iter().find(|(p, _)| p == path);
        assert_eq!(
            found.map(|(_, t)| *t),
            Some(ty),
            "{fixture}: field {path} ({ty})"
        );
    }
    for builtin in [
        "@metadata.beat",
        "agent.id",
        "agent.ephemeral_id",
        "agent.name",
        "ecs.version",
        "host.name",
    ] {
        assert!(our_leaves.iter().any(|(p, _)| p == builtin), "{builtin}");
    }
}

#[test]
fn cpu_event_has_every_field_of_metricbeats_example() {
    let before = parse_stat(&read("metricbeat-oracle/sample-1/before/proc/stat")).unwrap();
    let after = parse_stat(&read("metricbeat-oracle/sample-1/after/proc/stat")).unwrap();
    let usage = cpu_usage(&before, &after).unwrap();
    let beat = beat();
    let ctx = EventContext {
        beat: &beat,
        period: Duration::from_secs(10),
        fields: None,
        fields_under_root: false,
        tags: &[],
    };
    let metrics = CpuMetrics {
        ticks: true,
        ..CpuMetrics::default()
    };
    let ev = cpu_event(
        &ctx,
        SystemTime::now(),
        Duration::from_micros(115),
        &usage,
        metrics,
    );
    assert_covers("metricbeat-cpu-example.json", &ev);
    assert!(ev.to_json().starts_with(r#"{"@timestamp":""#));
    assert_eq!(
        ev.get_path("metricset.period").unwrap().to_plain_string(),
        "10000"
    );
    assert_eq!(
        ev.get_path("event.duration").unwrap().to_plain_string(),
        "115000"
    );
}

#[test]
fn memory_event_has_every_field_of_metricbeats_example() {
    let m = Memory::from_meminfo(&parse_meminfo(&read("proc-meminfo-sample.txt")));
    let beat = beat();
    let ctx = EventContext {
        beat: &beat,
        period: Duration::from_secs(10),
        fields: None,
        fields_under_root: false,
        tags: &[],
    };
    let ev = memory_event(&ctx, SystemTime::now(), Duration::from_micros(115), &m);
    assert_covers("metricbeat-memory-example.json", &ev);
    let json = ev.to_json();
    assert!(
        json.starts_with(r#"{"@timestamp":""#)
            && json.contains(r#"Z","@metadata":{"beat":"metricbeat","type":"_doc""#),
        "{json}"
    );
}

#[test]
fn fields_tags_and_builtins_follow_libbeat_precedence() {
    let m = Memory::from_meminfo(&parse_meminfo(&read("proc-meminfo-sample.txt")));
    let beat = beat();
    let fields = Map::new()
        .with("env", "prod")
        .with("host", Map::new().with("name", "from-fields"));
    let tags = vec!["a".to_string(), "b".to_string()];
    let mut ctx = EventContext {
        beat: &beat,
        period: Duration::from_secs(10),
        fields: Some(&fields),
        fields_under_root: false,
        tags: &tags,
    };
    let ev = memory_event(&ctx, SystemTime::now(), Duration::ZERO, &m);
    assert_eq!(ev.get_path("fields.env").unwrap().to_plain_string(), "prod");
    assert_eq!(ev.get_path("host.name").unwrap().to_plain_string(), "web-1");
    assert_eq!(ev.get("tags").unwrap().to_plain_string(), r#"["a","b"]"#);
    ctx.fields_under_root = true;
    let ev = memory_event(&ctx, SystemTime::now(), Duration::ZERO, &m);
    assert_eq!(ev.get_path("env").unwrap().to_plain_string(), "prod");
    assert!(ev.get("fields").is_none());
    assert_eq!(
        ev.get_path("host.name").unwrap().to_plain_string(),
        "from-fields"
    );
}

#[test]
fn cpu_metrics_select_fields_but_host_usage_stays() {
    let before = parse_stat(&read("metricbeat-oracle/sample-2/before/proc/stat")).unwrap();
    let after = parse_stat(&read("metricbeat-oracle/sample-2/after/proc/stat")).unwrap();
    let usage = cpu_usage(&before, &after).unwrap();
    let beat = beat();
    let ctx = EventContext {
        beat: &beat,
        period: Duration::from_secs(10),
        fields: None,
        fields_under_root: false,
        tags: &[],
    };
    let only_pct = CpuMetrics {
        percentages: true,
        normalized_percentages: false,
        ticks: false,
    };
    let ev = cpu_event(&ctx, SystemTime::now(), Duration::ZERO, &usage, only_pct);
    assert!(ev.get_path("system.cpu.user.norm").is_none());
    assert_eq!(
        ev.get_path("system.cpu.user.pct")
            .unwrap()
            .to_plain_string(),
        "1.7992"
    );
    assert_eq!(
        ev.get_path("host.cpu.usage").unwrap().to_plain_string(),
        "0.6093"
    );
    assert!(ev.get_path("system.cpu.user.ticks").is_none());
}
