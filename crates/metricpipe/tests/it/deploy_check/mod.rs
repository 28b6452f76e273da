//! deploy/'s dashboard and alert rules against what the commands really export: every
//! `metricpipe_*` or `process_*` name that `deploy/grafana/*.json` or
//! `deploy/prometheus/*-rules.yml` mentions must be a family (or a histogram's
//! `_bucket`/`_sum`/`_count` series) on a real `/metrics` page of the agent or streams.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// The series names a `/metrics` page can have: each `# TYPE` family, plus the
/// `_bucket`/`_sum`/`_count` series of histograms and summaries.
pub fn exported_names(pages: &[&str]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for page in pages {
        for line in page.lines() {
            let Some(rest) = line.strip_prefix("# TYPE ") else {
                continue;
            };
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            names.insert(name.to_string());
            if kind == "histogram" || kind == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    names
}

/// Every `metricpipe_*` / `process_*` identifier in `text`.
fn mentioned(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if ident(bytes[i]) && (i == 0 || !ident(bytes[i - 1])) {
            let start = i;
            while i < bytes.len() && ident(bytes[i]) {
                i += 1;
            }
            let word = &text[start..i];
            if word.starts_with("metricpipe_") || word.starts_with("process_") {
                out.insert(word.to_string());
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The names the dashboard's queries and the rule files use, with the file naming each.
pub fn deploy_names() -> Vec<(String, String)> {
    let mut found = Vec::new();
    let dashboards = deploy_dir().join("grafana");
    let rules = deploy_dir().join("prometheus");
    let mut files: Vec<PathBuf> = Vec::new();
    for (dir, keep) in [(&dashboards, ".json"), (&rules, "-rules.yml")] {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("dir entry").path();
            if path.to_string_lossy().ends_with(keep) {
                files.push(path);
            }
        }
    }
    assert!(
        files.len() >= 2,
        "no dashboard or rules under {}",
        deploy_dir().display()
    );
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read deploy file");
        if path.extension().is_some_and(|e| e == "json") {
            let _: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        }
        for name in mentioned(&text) {
            found.push((name, path.display().to_string()));
        }
    }
    found
}

/// Panics naming each metric that deploy/ uses and neither page exports.
pub fn assert_deploy_names_exported(agent_page: &str, streams_page: &str) {
    let exported = exported_names(&[agent_page, streams_page]);
    let used = deploy_names();
    assert!(
        used.len() > 20,
        "too few metric names found in deploy/: {used:?}"
    );
    let missing: Vec<_> = used
        .iter()
        .filter(|(name, _)| !exported.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "deploy/ names metrics nobody exports: {missing:?}\nexported: {exported:?}"
    );
}

#[test]
fn names_are_read_from_text_and_pages() {
    let used = mentioned(r#"rate(metricpipe_a_total{x="process_b"}[5m]) + up + xmetricpipe_c"#);
    assert_eq!(
        used.into_iter().collect::<Vec<_>>(),
        ["metricpipe_a_total", "process_b"]
    );
    let page = "# TYPE metricpipe_h_seconds histogram\n# TYPE process_x gauge\n";
    let names = exported_names(&[page]);
    for n in [
        "metricpipe_h_seconds_bucket",
        "metricpipe_h_seconds_count",
        "process_x",
    ] {
        assert!(names.contains(n), "{n}: {names:?}");
    }
    assert!(!names.contains("process_x_bucket"));
}
