//! metricbeat.yml decoding: the SPEC example, Metricbeat's other settings, warnings, errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use metricpipe_agent::config::{from_yaml, load, parse_go_duration};
use metricpipe_agent::{ConfigSources, Metricset, OutputConfig};
use metricpipe_ship::Partitioning;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn err_of(yaml: &str) -> String {
    match from_yaml(yaml) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

const BASE: &str =
    "metricbeat.modules: [{module: system, metricsets: [cpu, memory]}]\noutput.console: {}\n";

#[test]
fn spec_example_works_unchanged() {
    let c = load(&ConfigSources {
        path_config: Some(data("")),
        files: vec!["metricbeat.yml".into()],
        ..ConfigSources::default()
    })
    .unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.modules.len(), 1);
    assert_eq!(
        c.modules[0].metricsets,
        vec![Metricset::Cpu, Metricset::Memory]
    );
    assert_eq!(c.modules[0].period, Duration::from_secs(10));
    let OutputConfig::Kafka(k) = &c.output else {
        panic!("kafka expected")
    };
    assert_eq!(k.sink.hosts, vec!["my-kafka:9092"]);
    assert_eq!(k.sink.required_acks, 1);
    assert_eq!(k.sink.queue_capacity, 3200);
    assert_eq!(
        k.sink.partitioning,
        Partitioning::Random { group_events: 1 }
    );
    let ev = metricpipe_collect::Map::new();
    assert_eq!(k.topic.render(&ev).unwrap(), "metric.all");
    assert_eq!(c.path_data, PathBuf::from("./data"));
}

#[test]
fn full_config_maps_every_supported_setting_and_names_the_rest() {
    let c = load(&ConfigSources {
        files: vec![data("metricbeat-full.yml")],
        overrides: vec!["output.kafka.compression=zstd".into(), "name=web-2".into()],
        ..ConfigSources::default()
    })
    .unwrap();
    assert_eq!(c.name.as_deref(), Some("web-2"));
    assert_eq!(c.tags, vec!["prod", "eu"]);
    assert!(c.fields_under_root);
    let fields = c.fields.as_ref().unwrap();
    assert_eq!(fields.get_path("rack.row").unwrap().to_plain_string(), "3");
    assert_eq!(c.max_start_delay, Duration::ZERO);
    let m = &c.modules[0];
    assert_eq!(c.modules.len(), 1, "docker is skipped");
    assert_eq!(m.period, Duration::from_secs(5));
    assert_eq!(m.hostfs.as_deref(), Some(Path::new("/hostfs")));
    assert!(
        m.cpu_metrics.percentages && m.cpu_metrics.ticks && !m.cpu_metrics.normalized_percentages
    );
    let OutputConfig::Kafka(k) = &c.output else {
        panic!("kafka expected")
    };
    assert_eq!(k.sink.hosts, vec!["k1:9092", "k2:9092"]);
    assert_eq!(k.sink.required_acks, -1);
    assert_eq!(k.sink.compression, "zstd");
    assert_eq!(k.sink.client_id, "my-agent");
    assert_eq!(k.sink.max_message_bytes, 2_000_000);
    assert_eq!(k.sink.queue_capacity, 100);
    assert_eq!(
        k.sink.partitioning,
        Partitioning::RoundRobin { group_events: 2 }
    );
    assert!(k
        .sink
        .properties
        .contains(&("security.protocol".into(), "SASL_SSL".into())));
    assert!(k
        .sink
        .properties
        .contains(&("sasl.mechanism".into(), "PLAIN".into())));
    assert!(k
        .sink
        .properties
        .contains(&("sasl.username".into(), "alice".into())));
    assert!(
        !c.warnings.join("\n").contains("alice-secret"),
        "a password in a warning"
    );
    let ev = metricpipe_collect::Map::new().with(
        "metricset",
        metricpipe_collect::Map::new().with("name", "memory"),
    );
    assert_eq!(k.topic.render(&ev).unwrap(), "memory");

    // The modules.d glob is read (it matches nothing here: path.config is the cwd).
    assert!(c.modules_glob.is_some());
    let warnings = c.warnings.join("\n");
    for named in [
        "`metricbeat.modules.0.processes`",
        "`system/load`",
        "module `docker`",
        "processor `add_cloud_metadata`",
        "`queue.mem.flush.timeout`",
        "`setup.kibana.host`",
    ] {
        assert!(
            warnings.contains(named),
            "no warning names {named}:\n{warnings}"
        );
    }
}

#[test]
fn period_forms() {
    for (p, want) in [
        ("10s", 10_000),
        ("1m30s", 90_000),
        ("500ms", 500),
        ("1.5s", 1500),
        ("10", 10_000),
        ("2.5", 2500),
    ] {
        let c = from_yaml(&format!(
            "metricbeat.modules: [{{module: system, period: {p}}}]\noutput.console: {{}}\n"
        ))
        .unwrap();
        assert_eq!(c.modules[0].period, Duration::from_millis(want), "{p}");
        assert_eq!(
            c.modules[0].metricsets,
            vec![Metricset::Cpu, Metricset::Memory]
        );
    }
    assert_eq!(parse_go_duration("1h").unwrap(), Duration::from_secs(3600));
    assert!(parse_go_duration("10d").is_err());
    assert!(parse_go_duration("s").is_err());
}

#[test]
fn invalid_values_name_the_key() {
    let cases = [
        ("metricbeat.modules: [{module: system, period: 10x}]\noutput.console: {}\n", "metricbeat.modules.0.period"),
        ("metricbeat.modules: [{module: system, period: 0s}]\noutput.console: {}\n", "metricbeat.modules.0.period"),
        ("metricbeat.modules: [{module: system, enabled: maybe}]\noutput.console: {}\n", "metricbeat.modules.0.enabled"),
        ("metricbeat.modules: [{module: system, cpu.metrics: []}]\noutput.console: {}\n", "cpu.metrics cannot be empty"),
        ("metricbeat.modules: [{module: system, cpu.metrics: [pct]}]\noutput.console: {}\n", "invalid cpu.metrics value 'pct'"),
        ("metricbeat.modules: [{module: system, enabled: false}]\noutput.console: {}\n", "all modules are disabled"),
        ("metricbeat.modules: []\noutput.console: {}\n", "one or more modules must be configured"),
        ("output.console: {}\n", "metricbeat.modules"),
        ("metricbeat.modules: [{module: system}]\n", "no output is configured"),
        ("metricbeat.modules: [{module: system}]\noutput.console: {}\noutput.kafka: {hosts: [a:9092], topic: t}\n", "exactly one output"),
        ("metricbeat.modules: [{module: system}]\noutput.kafka: {hosts: [a:9092], topic: t, required_acks: 2}\n", "output.kafka.required_acks"),
        ("metricbeat.modules: [{module: system}]\noutput.kafka: {hosts: [a:9092], topic: t, compression: brotli}\n", "output.kafka.compression"),
        ("metricbeat.modules: [{module: system}]\noutput.kafka: {hosts: ['http://a:9092'], topic: t}\n", "output.kafka.hosts"),
        ("metricbeat.modules: [{module: system}]\noutput.kafka: {hosts: [a:9092]}\n", "output.kafka.topic"),
        ("metricbeat.modules: [{module: system}]\noutput.kafka: {topic: t}\n", "output.kafka.hosts"),
        ("metricbeat.modules: [{module: system}]\noutput.kafka: {hosts: [a], topic: t, max_message_bytes: -1}\n", "output.kafka.max_message_bytes"),
        ("metricbeat.modules: [{module: system}]\noutput.elasticsearch: {hosts: [a]}\n", "output.elasticsearch"),
        ("metricbeat.modules: [{module: system}]\noutput.kafka: {hosts: [a], topic: '%{[x'}\n", "output.kafka.topic"),
        ("metricbeat.modules: [{module: system}]\noutput.kafka: {hosts: [a], topic: t, partition.fancy: {}}\n", "output.kafka.partition.fancy"),
        ("metricbeat.modules: [{module: system}]\noutput.console: {}\nfields: 3\n", "`fields`"),
        (
            "metricbeat.modules: [{module: system}]\noutput.kafka: {hosts: [a], topic: 'metric all!'}\n",
            "output.kafka.topic",
        ),
        ("metricbeat.modules: [{module: system]\n", "not valid YAML"),
    ];
    for (yaml, needle) in cases {
        let err = err_of(yaml);
        assert!(
            err.contains(needle),
            "{yaml:?}: {err:?} does not name {needle:?}"
        );
    }
}

#[test]
fn disabled_outputs_and_modules_are_skipped() {
    let c = from_yaml(
        "metricbeat.modules: [{module: system, enabled: false}, {module: system, metricsets: [memory]}]\n\
         output.elasticsearch: {enabled: false, hosts: [x]}\noutput.console: {pretty: true}\n",
    )
    .unwrap();
    assert_eq!(c.modules.len(), 1);
    assert_eq!(c.modules[0].metricsets, vec![Metricset::Memory]);
    assert!(matches!(c.output, OutputConfig::Console { pretty: true }));
}

#[test]
fn overrides_and_later_files_win() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yml"), BASE).unwrap();
    std::fs::write(
        dir.path().join("b.yml"),
        "metricbeat.modules: [{module: system, metricsets: [cpu], period: 3s}]\n",
    )
    .unwrap();
    let c = load(&ConfigSources {
        path_config: Some(dir.path().to_path_buf()),
        files: vec!["a.yml".into(), "b.yml".into()],
        overrides: vec![
            "output.console.pretty=true".into(),
            "path.data=/tmp/x".into(),
        ],
        ..ConfigSources::default()
    })
    .unwrap();
    assert_eq!(c.modules[0].metricsets, vec![Metricset::Cpu]);
    assert_eq!(c.modules[0].period, Duration::from_secs(3));
    assert!(matches!(c.output, OutputConfig::Console { pretty: true }));
    assert_eq!(c.path_data, PathBuf::from("/tmp/x"));

    let missing = load(&ConfigSources {
        path_config: Some(dir.path().to_path_buf()),
        ..ConfigSources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(missing.contains("metricbeat.yml"), "{missing}");
    let bad = load(&ConfigSources {
        path_config: Some(dir.path().to_path_buf()),
        files: vec!["a.yml".into()],
        overrides: vec!["tags=[a".into()],
        ..ConfigSources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("key=value") && bad.contains("']' missing"),
        "{bad}"
    );
}

#[test]
fn dash_e_addresses_list_elements_by_index_as_go_ucfg_does() {
    let c = load(&ConfigSources {
        files: vec![data("metricbeat-full.yml")],
        overrides: vec![
            // Replace the first host, append a third (an index past the end appends).
            "output.kafka.hosts.0=x:9092".into(),
            "output.kafka.hosts.2=c:9092".into(),
            "metricbeat.modules.0.period=7s".into(),
        ],
        ..ConfigSources::default()
    })
    .unwrap();
    let OutputConfig::Kafka(k) = &c.output else {
        panic!("kafka expected")
    };
    assert_eq!(k.sink.hosts, vec!["x:9092", "k2:9092", "c:9092"]);
    assert_eq!(c.modules[0].period, Duration::from_secs(7));
}
