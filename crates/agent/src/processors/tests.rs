//! Processors and `when` conditions on a cpu-shaped event.

use super::*;

fn event() -> Map {
    Map::new()
        .with("@timestamp", "2026-01-01T00:00:00.000Z")
        .with(
            "metricset",
            Map::new()
                .with("name", "cpu")
                .with("period", Value::Int(10000)),
        )
        .with("host", Map::new().with("name", "web-1"))
        .with(
            "system",
            Map::new().with(
                "cpu",
                Map::new().with(
                    "total",
                    Map::new().with("norm", Map::new().with("pct", 0.9)),
                ),
            ),
        )
        .with("tags", Value::Array(vec![Value::Str("forwarded".into())]))
}

fn procs(yaml: &str) -> (Processors, Vec<String>) {
    let node = Node::from_yaml(yaml, "t").unwrap();
    let mut warnings = Vec::new();
    let p = Processors::parse("processors", &node, &mut warnings).unwrap();
    (p, warnings)
}

fn run(yaml: &str) -> Option<Map> {
    procs(yaml).0.run(event())
}

#[test]
fn stock_metricbeat_yml_processors_start_with_one_warning_each() {
    let (p, w) = procs(
        "- add_host_metadata:\n    when.not.contains.tags: forwarded\n- add_cloud_metadata: ~\n- add_docker_metadata: ~\n- add_kubernetes_metadata: ~\n",
    );
    // add_host_metadata runs; the three cloud/container ones are one warning each.
    assert!(!p.is_empty());
    assert_eq!(w.len(), 3, "{w:?}");
    for name in [
        "add_cloud_metadata",
        "add_docker_metadata",
        "add_kubernetes_metadata",
    ] {
        assert_eq!(
            w.iter()
                .filter(|x| x.contains(&format!("`{name}`")))
                .count(),
            1,
            "{w:?}"
        );
    }
    assert!(!w.iter().any(|x| x.contains("add_host_metadata")), "{w:?}");
}

#[test]
fn conditions() {
    let ev = event();
    let cond = |yaml: &str| {
        Condition::parse("when", &Node::from_yaml(yaml, "t").unwrap())
            .unwrap()
            .matches(&ev)
    };
    assert!(cond("equals.metricset.name: cpu"));
    assert!(cond("equals.metricset.period: 10000"));
    assert!(!cond("equals.metricset.name: memory"));
    assert!(cond("contains.host.name: web"));
    assert!(cond("contains.tags: forw"));
    assert!(cond("regexp.host.name: '^web-[0-9]+$'"));
    assert!(!cond("regexp.host.name: '^db'"));
    assert!(cond("range.system.cpu.total.norm.pct.gte: 0.5"));
    assert!(cond("range: {system.cpu.total.norm.pct: {gt: 0.5, lt: 1}}"));
    assert!(!cond("range.system.cpu.total.norm.pct.lt: 0.5"));
    assert!(cond("has_fields: [host.name, metricset.name]"));
    assert!(!cond("has_fields: [host.ip]"));
    assert!(cond(
        "or: [{equals.metricset.name: memory}, {equals.host.name: web-1}]"
    ));
    assert!(!cond(
        "and: [{equals.metricset.name: memory}, {equals.host.name: web-1}]"
    ));
    assert!(cond("not.equals.metricset.name: memory"));
    let bad = Condition::parse("when", &Node::from_yaml("regexp.a: '('", "t").unwrap());
    assert!(bad.unwrap_err().contains("when.regexp.a"));
    let mut with_ip = ev.clone();
    with_ip.put_path("source.ip", Value::Str("10.1.2.3".into()));
    let net = |yaml: &str| {
        Condition::parse("when", &Node::from_yaml(yaml, "t").unwrap())
            .unwrap()
            .matches(&with_ip)
    };
    assert!(net("network.source.ip: private"));
    assert!(net("network: {source.ip: [loopback, '10.0.0.0/8']}"));
    assert!(!net("network.source.ip: public"));
    assert!(!net("network.host.name: private"));
    let bad = Condition::parse(
        "when",
        &Node::from_yaml("network.source.ip: nowhere", "t").unwrap(),
    );
    assert!(bad.unwrap_err().contains("when.network.source.ip"));
}

#[test]
fn each_processor() {
    let e = run("- add_fields: {target: project, fields: {name: mp, id: 7}}").unwrap();
    assert_eq!(e.get_path("project.name"), Some(&Value::Str("mp".into())));
    let e = run("- add_fields: {target: '', fields: {env: prod}}").unwrap();
    assert_eq!(e.get_path("env"), Some(&Value::Str("prod".into())));
    let e = run("- add_fields: {fields: {env: prod}}").unwrap();
    assert_eq!(e.get_path("fields.env"), Some(&Value::Str("prod".into())));
    let e = run("- drop_fields: {fields: [host, '@timestamp']}").unwrap();
    assert!(e.get("host").is_none() && e.get("@timestamp").is_some());
    let e = run("- include_fields: {fields: [host.name]}").unwrap();
    assert_eq!(e.leaf_paths(), ["host.name", "@timestamp"]);
    assert!(run("- drop_event.when.equals.metricset.name: cpu").is_none());
    assert!(run("- drop_event.when.equals.metricset.name: memory").is_some());
    let e = run("- rename: {fields: [{from: host.name, to: host.hostname}]}").unwrap();
    assert!(e.get_path("host.name").is_none());
    assert_eq!(
        e.get_path("host.hostname"),
        Some(&Value::Str("web-1".into()))
    );
    // Onto an existing field: the event stays as it was.
    let e = run("- rename: {fields: [{from: host.name, to: metricset.name}]}").unwrap();
    assert_eq!(e, event());
    let e = run("- copy_fields: {fields: [{from: host.name, to: labels.host}]}").unwrap();
    assert_eq!(e.get_path("host.name"), e.get_path("labels.host"));
    let e = run("- add_tags: {tags: [web, forwarded]}").unwrap();
    assert_eq!(
        e.get("tags"),
        Some(&Value::Array(vec![
            Value::Str("forwarded".into()),
            Value::Str("web".into())
        ]))
    );
    let e = run("- add_labels: {labels: {team: {name: ops}}}").unwrap();
    assert_eq!(
        e.get_path("labels")
            .and_then(|l| l.as_object())
            .and_then(|l| l.get("team.name")),
        Some(&Value::Str("ops".into()))
    );
    let e = run("- add_locale: ~").unwrap();
    let Some(Value::Str(tz)) = e.get_path("event.timezone") else {
        panic!("no event.timezone")
    };
    assert!(
        tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')),
        "{tz}"
    );
}
