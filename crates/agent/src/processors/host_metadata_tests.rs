//! `add_host_metadata` over a fake hostfs: the `host` object, the deep update, the skip
//! rule, `name`, `geo`, `netinfo.enabled`, `cache.ttl` and bad settings.

use super::*;
use crate::processors::Processors;

fn hostfs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/os-release"),
        "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("etc/rocky-release"),
        "Rocky Linux release 9.3 (Blue Onyx)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("etc/machine-id"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    dir
}

fn processors(yaml: &str, root: &Path) -> Processors {
    let node = Node::from_yaml(yaml, "t").unwrap();
    let mut warnings = Vec::new();
    let mut p = Processors::parse("processors", &node, &mut warnings).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    p.bind_hostfs(root);
    p
}

fn cpu_event() -> Map {
    Map::new()
        .with("metricset", Map::new().with("name", "cpu"))
        .with(
            "host",
            Map::new()
                .with("cpu", Map::new().with("usage", 0.9))
                .with("name", "Web-1"),
        )
}

fn memory_event() -> Map {
    Map::new()
        .with("metricset", Map::new().with("name", "memory"))
        .with("host", Map::new().with("name", "configured-name"))
}

fn text(ev: &Map, path: &str) -> String {
    match ev.get_path(path) {
        Some(Value::Str(s)) => s.clone(),
        other => panic!("{path}: {other:?} in {}", ev.to_json()),
    }
}

#[test]
fn host_fields_from_the_hostfs_are_deep_merged() {
    let root = hostfs();
    let p = processors("- add_host_metadata: ~", root.path());
    let ev = p.run(cpu_event()).unwrap();
    let (arch, kernel) = crate::processors::netinfo::uname();
    let hostname = crate::host::hostname();
    assert_eq!(text(&ev, "host.hostname"), hostname);
    assert_eq!(text(&ev, "host.name"), hostname.to_lowercase());
    assert_eq!(text(&ev, "host.architecture"), arch);
    assert_eq!(text(&ev, "host.os.kernel"), kernel);
    assert_eq!(text(&ev, "host.os.type"), "linux");
    assert_eq!(text(&ev, "host.os.platform"), "rocky");
    assert_eq!(text(&ev, "host.os.family"), "redhat");
    assert_eq!(text(&ev, "host.os.name"), "Rocky Linux");
    assert_eq!(text(&ev, "host.os.version"), "9.3 (Blue Onyx)");
    assert_eq!(text(&ev, "host.os.codename"), "Blue Onyx");
    assert!(ev.get_path("host.os.build").is_none());
    assert_eq!(text(&ev, "host.id"), "0123456789abcdef0123456789abcdef");
    assert!(matches!(
        ev.get_path("host.containerized"),
        Some(Value::Bool(_))
    ));
    // The metricset's own host field survives the deep update.
    assert_eq!(ev.get_path("host.cpu.usage"), Some(&Value::Float(0.9)));
    // netinfo.enabled defaults to true: the lists are there whenever there are
    // non-loopback interfaces, and never hold a loopback address.
    if let Some(Value::Array(ips)) = ev.get_path("host.ip") {
        assert!(!ips.contains(&Value::Str("127.0.0.1".into())), "{ips:?}");
    }
}

#[test]
fn without_hostfs_files_the_optional_fields_are_left_out() {
    let empty = tempfile::tempdir().unwrap();
    let p = processors(
        "- add_host_metadata: {netinfo.enabled: false}",
        empty.path(),
    );
    let ev = p.run(memory_event()).unwrap();
    assert!(ev.get_path("host.id").is_none());
    assert!(ev.get_path("host.os.codename").is_none());
    assert_eq!(text(&ev, "host.os.platform"), "");
    assert!(ev.get_path("host.ip").is_none() && ev.get_path("host.mac").is_none());
}

#[test]
fn replace_fields_false_skips_events_whose_host_holds_more_than_name() {
    let root = hostfs();
    let p = processors("- add_host_metadata: {replace_fields: false}", root.path());
    // A cpu event's host.cpu.usage counts, as in libbeat: the event is left alone.
    assert_eq!(p.run(cpu_event()).unwrap(), cpu_event());
    let ev = p.run(memory_event()).unwrap();
    assert_eq!(text(&ev, "host.os.platform"), "rocky");
}

#[test]
fn name_and_geo_settings() {
    let root = hostfs();
    let p = processors(
        "- add_host_metadata:\n    name: Custom-Name\n    netinfo.enabled: false\n    geo:\n      name: nyc-dc1-rack1\n      location: 40.7128, -74.0060\n      city_name: ' '\n",
        root.path(),
    );
    let ev = p.run(memory_event()).unwrap();
    assert_eq!(text(&ev, "host.name"), "Custom-Name");
    assert_eq!(text(&ev, "host.geo.name"), "nyc-dc1-rack1");
    assert_eq!(text(&ev, "host.geo.location"), "40.7128, -74.0060");
    assert!(ev.get_path("host.geo.city_name").is_none());
}

#[test]
fn bad_settings_name_the_key() {
    let parse = |yaml: &str| {
        let node = Node::from_yaml(yaml, "t").unwrap();
        Processors::parse("processors", &node, &mut Vec::new())
            .unwrap_err()
            .to_string()
    };
    let e = parse("- add_host_metadata: {geo.location: 'north'}");
    assert!(
        e.contains("processors.0.add_host_metadata.geo.location"),
        "{e}"
    );
    let e = parse("- add_host_metadata: {netinfo.enabled: maybe}");
    assert!(
        e.contains("processors.0.add_host_metadata.netinfo.enabled"),
        "{e}"
    );
    let e = parse("- add_host_metadata: {cache.ttl: soon}");
    assert!(
        e.contains("processors.0.add_host_metadata.cache.ttl"),
        "{e}"
    );
    let e = parse("- add_host_metadata: {geo.planet: mars}");
    assert!(e.contains("geo.planet"), "{e}");
}

#[test]
fn the_cache_keeps_facts_for_cache_ttl_and_a_negative_ttl_rereads() {
    let root = hostfs();
    let id = |p: &Processors| text(&p.run(memory_event()).unwrap(), "host.id");
    let cached = processors("- add_host_metadata: {netinfo.enabled: false}", root.path());
    let uncached = processors(
        "- add_host_metadata: {netinfo.enabled: false, cache.ttl: -1s}",
        root.path(),
    );
    assert_eq!(id(&cached), "0123456789abcdef0123456789abcdef");
    assert_eq!(id(&uncached), "0123456789abcdef0123456789abcdef");
    std::fs::write(root.path().join("etc/machine-id"), "changed\n").unwrap();
    assert_eq!(id(&cached), "0123456789abcdef0123456789abcdef");
    assert_eq!(id(&uncached), "changed");
}

#[test]
fn locations_as_libbeat_accepts_them() {
    assert!(valid_location("40.7128, -74.0060"));
    assert!(valid_location(" 1,2 "));
    assert!(!valid_location("40.7128"));
    assert!(!valid_location("a, b"));
    assert!(!valid_location("1., 2"));
}
