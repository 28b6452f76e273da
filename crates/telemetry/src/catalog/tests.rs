use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

use super::*;

/// The values of the `pub const NAME: &str = "metricpipe_…"` items of catalog.rs, read from
/// its source so that a constant added without a row is caught.
fn name_constants() -> Vec<String> {
    let source = include_str!("../catalog.rs");
    let mut names = Vec::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        if !(line.starts_with("pub const ") && line.contains(": &str =")) {
            continue;
        }
        let mut item = line.to_string();
        while !item.trim_end().ends_with(';') {
            item.push_str(lines.next().expect("a const item ends with ;"));
        }
        let value = item.split('"').nth(1).expect("a string literal");
        names.push(value.to_string());
    }
    names
}

#[test]
fn every_name_constant_has_one_row_with_help() {
    let constants = name_constants();
    assert!(constants.len() > 20, "{constants:?}");
    for name in &constants {
        let rows = METRICS.iter().filter(|m| m.name == name).count();
        assert_eq!(rows, 1, "{name} has {rows} rows in METRICS");
        let help = lookup(name).expect("a row").help;
        assert!(!help.trim().is_empty(), "{name} has no HELP");
    }
    for m in METRICS {
        assert!(
            constants.iter().any(|c| c == m.name),
            "{} has a row but no constant",
            m.name
        );
    }
}

#[test]
fn names_follow_prometheus_naming() {
    for m in METRICS {
        assert!(m.name.starts_with("metricpipe_"), "{}", m.name);
        assert_eq!(
            m.kind == Kind::Counter,
            m.name.ends_with("_total"),
            "{}: counters and only counters end in _total",
            m.name
        );
        assert_eq!(
            m.unit == Some(Unit::Seconds),
            m.name.ends_with("_seconds"),
            "{}: the unit is the name's suffix",
            m.name
        );
        if m.kind == Kind::Histogram {
            assert!(
                m.name.ends_with("_seconds"),
                "{}: buckets are seconds",
                m.name
            );
        }
    }
}

/// What a describe call handed to the recorder: kind, unit and HELP text.
type Described = (Kind, Option<Unit>, String);

/// Keeps the describe calls by name.
#[derive(Default)]
struct Descriptions(Mutex<BTreeMap<String, Described>>);

impl Descriptions {
    fn keep(&self, kind: Kind, key: KeyName, unit: Option<Unit>, help: SharedString) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(key.as_str().to_string(), (kind, unit, help.to_string()));
    }
}

impl Recorder for Descriptions {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, help: SharedString) {
        self.keep(Kind::Counter, key, unit, help);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, help: SharedString) {
        self.keep(Kind::Gauge, key, unit, help);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, help: SharedString) {
        self.keep(Kind::Histogram, key, unit, help);
    }
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[test]
fn the_describe_functions_describe_every_row() {
    let recorder = Descriptions::default();
    metrics::with_local_recorder(&recorder, || {
        describe_common_metrics();
        describe_agent_metrics();
        describe_streams_metrics();
    });
    let seen = recorder.0.lock().expect("not poisoned");
    assert_eq!(seen.len(), METRICS.len());
    for m in METRICS {
        let (kind, unit, help) = seen
            .get(m.name)
            .unwrap_or_else(|| panic!("{} not described", m.name));
        assert_eq!(
            (*kind, *unit, help.as_str()),
            (m.kind, m.unit, m.help),
            "{}",
            m.name
        );
    }
}

#[test]
fn bad_record_reasons_keep_their_label_values() {
    let values: Vec<&str> = BadRecordReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        values,
        [
            "not-utf8",
            "not-json",
            "mistyped-field",
            "missing-field",
            "too-large",
            "unalertable",
            "refused-by-broker",
            "refused-by-producer",
        ]
    );
    for r in BadRecordReason::ALL {
        assert_eq!(BadRecordReason::from_code(r.as_str()), Some(r));
        assert_eq!(r.to_string(), r.as_str());
    }
    assert_eq!(BadRecordReason::from_code("unknown-source"), None);
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `file:line: text` of each `counter!`/`gauge!`/`histogram!` (and `describe_*!`) call in
/// `source` whose first argument is a string literal, even when it is on the next line.
fn literal_names(file: &str, source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for macro_name in ["counter", "gauge", "histogram"] {
        let call = format!("{macro_name}!(");
        for (at, _) in source.match_indices(&call) {
            let arg = source[at + call.len()..].trim_start();
            if arg.starts_with('"') || arg.starts_with("r\"") || arg.starts_with("r#") {
                let line = source[..at].matches('\n').count() + 1;
                let text = source.lines().nth(line - 1).unwrap_or("").trim();
                found.push(format!("{file}:{line}: {text}"));
            }
        }
    }
    found
}

#[test]
fn the_scan_finds_literal_names() {
    // Built with format! so that this file holds no literal call itself.
    let call = format!("metrics::{}!(", "counter");
    let source = format!("x;\n  {call}\n   \"metricpipe_x_total\").increment(1);");
    assert_eq!(literal_names("f.rs", &source), [format!("f.rs:2: {call}")]);
    let source = format!("{}!(NAME, \"k\" => \"v\")", "gauge");
    assert!(literal_names("f.rs", &source).is_empty());
}

#[test]
fn every_emitted_name_is_a_catalog_constant() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates/telemetry is in crates/");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(crates).expect("the crates directory") {
        let src = krate.expect("a crate").path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(
        files.len() > 50,
        "{} files under {}",
        files.len(),
        crates.display()
    );
    let mut found = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("a readable source file");
        let root = crates.parent().unwrap_or(crates);
        let shown = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        found.extend(literal_names(&shown, &source));
    }
    assert!(
        found.is_empty(),
        "metric names must be constants of metricpipe_telemetry::catalog, not literals:\n{}",
        found.join("\n")
    );
}
