//! The packaged layout: metricbeat.yml + modules.d/*.yml, as a Metricbeat package installs
//! them (tests/data/package), loaded unchanged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use metricpipe_agent::config::load;
use metricpipe_agent::{ConfigSources, Metricset, OutputConfig};

fn package() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/package")
}

/// A copy of the package fixture with owner-only permissions, plus `extra` files.
fn copy_package(extra: &[(&str, &str)]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("modules.d")).unwrap();
    let mut files = vec![
        "metricbeat.yml".to_string(),
        "modules.d/system.yml".into(),
        "modules.d/kafka.yml.disabled".into(),
    ];
    for (name, text) in extra {
        std::fs::write(dir.path().join(name), text).unwrap();
        files.push(name.to_string());
    }
    for f in &files {
        let to = dir.path().join(f);
        if !to.exists() {
            std::fs::copy(package().join(f), &to).unwrap();
        }
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    dir
}

fn sources(config_dir: &Path) -> ConfigSources {
    ConfigSources {
        files: vec!["metricbeat.yml".into()],
        path_config: Some(config_dir.to_path_buf()),
        path_home: Some(config_dir.to_path_buf()),
        strict_perms: true,
        ..ConfigSources::default()
    }
}

#[test]
fn stock_package_runs_cpu_and_memory_and_names_the_rest() {
    let dir = copy_package(&[]);
    let c = load(&sources(dir.path())).unwrap();
    assert_eq!(c.modules.len(), 1, "{:?}", c.modules);
    assert_eq!(
        c.modules[0].metricsets,
        vec![Metricset::Cpu, Metricset::Memory]
    );
    assert_eq!(c.modules[0].period, Duration::from_secs(10));
    let glob = c.modules_glob.as_ref().unwrap();
    assert_eq!(glob.pattern, dir.path().join("modules.d/*.yml"));
    assert_eq!(glob.reload, None);
    // One warning per metricset metricpipe does not have, each naming it and its file.
    for set in [
        "load",
        "network",
        "process",
        "process_summary",
        "socket_summary",
        "filesystem",
        "fsstat",
        "uptime",
    ] {
        let hits: Vec<_> = c
            .warnings
            .iter()
            .filter(|w| w.contains(&format!("`system/{set}`")))
            .collect();
        assert_eq!(hits.len(), 1, "{set}: {:#?}", c.warnings);
        assert!(hits[0].contains("modules.d/system.yml["), "{}", hits[0]);
    }
    // The disabled kafka module file is not read at all.
    assert!(
        !c.warnings.iter().any(|w| w.contains("kafka")),
        "{:#?}",
        c.warnings
    );
    let OutputConfig::Kafka(k) = &c.output else {
        panic!("kafka expected")
    };
    assert_eq!(k.sink.hosts, vec!["localhost:9092"]);
    assert_eq!(c.path_data, dir.path().join("data"));
}

#[test]
fn inline_modules_and_modules_d_combine_and_relative_glob_uses_path_config() {
    let dir = copy_package(&[(
        "extra.yml",
        "metricbeat.config.modules.path: modules.d/*.yml\nmetricbeat.modules:\n- module: system\n  metricsets: [memory]\n  period: 3s\n",
    )]);
    let mut s = sources(dir.path());
    s.files.push("extra.yml".into());
    let c = load(&s).unwrap();
    assert_eq!(c.modules.len(), 2);
    assert_eq!(c.modules[0].metricsets, vec![Metricset::Memory]);
    assert_eq!(c.modules[0].period, Duration::from_secs(3));
    assert_eq!(
        c.modules[1].metricsets,
        vec![Metricset::Cpu, Metricset::Memory]
    );
}

#[test]
fn all_module_files_disabled_is_a_clear_error() {
    let dir = copy_package(&[]);
    std::fs::rename(
        dir.path().join("modules.d/system.yml"),
        dir.path().join("modules.d/system.yml.disabled"),
    )
    .unwrap();
    let err = load(&sources(dir.path())).unwrap_err().to_string();
    assert!(
        err.contains("metricbeat.config.modules.path") && err.contains("system.yml.disabled"),
        "{err}"
    );
}

#[test]
fn strict_perms_refuses_a_group_writable_module_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = copy_package(&[]);
    let f = dir.path().join("modules.d/system.yml");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o664)).unwrap();
    let err = load(&sources(dir.path())).unwrap_err().to_string();
    assert!(
        err.contains("system.yml") && err.contains("chmod go-w"),
        "{err}"
    );
    let mut relaxed = sources(dir.path());
    relaxed.strict_perms = false;
    load(&relaxed).unwrap();
}

#[test]
fn e_flag_grammar_reaches_the_config() {
    let dir = copy_package(&[]);
    let mut s = sources(dir.path());
    s.overrides = vec![
        "tags=a,b".into(),
        "output.kafka.topic=%{[metricset.name]}".into(),
        "output.kafka.hosts=[k1:9092, k2:9092]".into(),
        "fields={env: prod, tier: web}".into(),
        "fields_under_root".into(),
    ];
    let c = load(&s).unwrap();
    assert_eq!(c.tags, vec!["a", "b"]);
    assert!(c.fields_under_root);
    assert_eq!(
        c.fields.as_ref().unwrap().to_json(),
        r#"{"env":"prod","tier":"web"}"#
    );
    let OutputConfig::Kafka(k) = &c.output else {
        panic!("kafka expected")
    };
    assert_eq!(k.sink.hosts, vec!["k1:9092", "k2:9092"]);
    let ev = metricpipe_collect::Map::new().with(
        "metricset",
        metricpipe_collect::Map::new().with("name", "cpu"),
    );
    assert_eq!(k.topic.render(&ev).unwrap(), "cpu");

    // An index path changes one entry of the inline list.
    let mut s = sources(dir.path());
    s.overrides = vec![
        "metricbeat.modules=[{module: system, metricsets: [cpu]}]".into(),
        "metricbeat.modules.0.period=2s".into(),
        "output.kafka.hosts".into(),
    ];
    let err = load(&s).unwrap_err().to_string();
    assert!(err.contains("`output.kafka.hosts`"), "{err}");
    s.overrides.pop();
    let c = load(&s).unwrap();
    assert_eq!(c.modules[0].period, Duration::from_secs(2));
}

#[test]
fn processors_from_files_and_e_run_module_then_global() {
    use metricpipe_collect::{Map, Value};
    let dir = copy_package(&[(
        "modules.d/extra.yml",
        "- module: system\n  metricsets: [memory]\n  processors:\n  - add_tags: {tags: [from-module]}\n",
    )]);
    let mut s = sources(dir.path());
    s.overrides = vec![
        "processors=[{add_fields: {target: project, fields: {id: 7}}}, {drop_event.when.equals.metricset.name: memory}]".into(),
    ];
    let c = load(&s).unwrap();
    // The stock processors' warnings are replaced by the -E list (a list replaces a list).
    assert!(
        !c.warnings.iter().any(|w| w.contains("add_cloud_metadata")),
        "{:#?}",
        c.warnings
    );
    let cpu = Map::new().with("metricset", Map::new().with("name", "cpu"));
    let out = c.processors.run(cpu).unwrap();
    assert_eq!(out.get_path("project.id"), Some(&Value::Int(7)));
    let memory = Map::new().with("metricset", Map::new().with("name", "memory"));
    assert!(c.processors.run(memory.clone()).is_none());
    let module = c.modules.iter().find(|m| !m.processors.is_empty()).unwrap();
    let tagged = module.processors.run(memory).unwrap();
    assert_eq!(
        tagged.get("tags"),
        Some(&Value::Array(vec![Value::Str("from-module".into())]))
    );
}

#[test]
fn stock_processors_are_named_once_each_and_the_agent_starts() {
    let dir = copy_package(&[]);
    let c = load(&sources(dir.path())).unwrap();
    // add_host_metadata runs; the others are one warning each.
    assert!(!c.warnings.iter().any(|w| w.contains("add_host_metadata")));
    for name in [
        "add_cloud_metadata",
        "add_docker_metadata",
        "add_kubernetes_metadata",
    ] {
        let n = c
            .warnings
            .iter()
            .filter(|w| w.contains(&format!("processor `{name}`")))
            .count();
        assert_eq!(n, 1, "{name}: {:#?}", c.warnings);
    }
    assert!(!c.processors.is_empty());
}

#[test]
fn http_section_gives_the_endpoint_address() {
    let dir = copy_package(&[]);
    let c = load(&sources(dir.path())).unwrap();
    assert_eq!(c.http_addr, None);
    let mut s = sources(dir.path());
    s.overrides = vec!["http.enabled".into()];
    assert_eq!(
        load(&s).unwrap().http_addr.as_deref(),
        Some("127.0.0.1:5066")
    );
    s.overrides = vec!["http={enabled: true, host: '::1', port: 5067}".into()];
    assert_eq!(load(&s).unwrap().http_addr.as_deref(), Some("[::1]:5067"));
    s.overrides = vec!["http.enabled".into(), "http.port=70000".into()];
    let err = load(&s).unwrap_err().to_string();
    assert!(err.contains("`http.port`"), "{err}");
}
