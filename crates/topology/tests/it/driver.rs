//! The metric topology through the in-memory test driver: the data-driven cases in
//! `tests/data/cases` (NAME.input: one record per line; NAME.expected: one line per output,
//! `topic<TAB>value` or `!reject<TAB>reason`, in order), the Metricbeat fixtures, and the
//! topology description.

use std::path::Path;

use metricpipe_streams::TopologyTestDriver;
use metricpipe_topology::{metric_topology, MetricFields, MetricTopologyConfig, Topics};

fn driver() -> TopologyTestDriver<MetricFields> {
    TopologyTestDriver::new(metric_topology(&MetricTopologyConfig::default()))
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// What one input produced, as the lines of a `.expected` file.
fn run_case(driver: &mut TopologyTestDriver<MetricFields>, input: &[u8]) -> Vec<Vec<u8>> {
    let rejected_before = driver.rejections().len();
    let mut got: Vec<Vec<u8>> = driver
        .pipe_input("metric.all", input)
        .iter()
        .map(|r| [r.topic.as_bytes(), b"\t", &r.value].concat())
        .collect();
    // Rejections come after the outputs of the same record in the expected files.
    for r in &driver.rejections()[rejected_before..] {
        got.push(format!("!reject\t{}", r.reason.code).into_bytes());
    }
    got
}

#[test]
fn data_driven_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cases");
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("input") {
            continue;
        }
        cases += 1;
        let input = std::fs::read(&path).unwrap();
        let expected = std::fs::read(path.with_extension("expected")).unwrap();
        let mut driver = driver();
        let mut got = Vec::new();
        for record in lines(&input) {
            got.extend(run_case(&mut driver, record));
        }
        let expected: Vec<Vec<u8>> = lines(&expected).into_iter().map(<[u8]>::to_vec).collect();
        assert_eq!(
            got.iter()
                .map(|l| String::from_utf8_lossy(l))
                .collect::<Vec<_>>(),
            expected
                .iter()
                .map(|l| String::from_utf8_lossy(l))
                .collect::<Vec<_>>(),
            "case {}",
            path.display()
        );
    }
    assert!(cases >= 8, "only {cases} cases found in {}", dir.display());
}

#[test]
fn pretty_printed_fixtures_route_byte_for_byte() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let cpu = std::fs::read(data.join("metricbeat-cpu-example.json")).unwrap();
    let memory = std::fs::read(data.join("metricbeat-memory-example.json")).unwrap();
    let mut d = driver();
    d.pipe_input("metric.all", &cpu);
    d.pipe_input("metric.all", &memory);
    assert_eq!(d.read_output("metric.cpu"), vec![cpu]);
    assert_eq!(d.read_output("metric.memory"), vec![memory]);
    // 4.57 % is no alert.
    assert!(d.read_output("metric.cpu.alert").is_empty());
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
}

#[test]
fn threshold_and_topics_are_configurable() {
    let config = MetricTopologyConfig {
        topics: Topics {
            input: "in".into(),
            cpu: "c".into(),
            memory: "m".into(),
            alert: "a".into(),
        },
        threshold: 0.9,
        ..MetricTopologyConfig::default()
    };
    let mut d = TopologyTestDriver::new(metric_topology(&config));
    let ev = |pct: &str| {
        format!(
            r#"{{"@timestamp":"t","metricset":{{"name":"cpu"}},"host":{{"name":"h"}},"system":{{"cpu":{{"total":{{"norm":{{"pct":{pct}}}}}}}}}}}"#
        )
    };
    d.pipe_input("in", ev("0.9"));
    d.pipe_input("in", ev("0.95"));
    assert_eq!(d.read_output("c").len(), 2);
    assert_eq!(
        d.read_output("a"),
        vec![br#"{"name":"h","timestamp":"t"}"#.to_vec()]
    );
    // A topic no source reads is a rejection, not a panic.
    d.pipe_input("metric.all", ev("0.95"));
    assert_eq!(
        d.rejections().last().map(|r| r.reason.code),
        Some("unknown-source")
    );
}

#[test]
fn huge_records_are_rejected_before_parsing() {
    let config = MetricTopologyConfig {
        max_record_bytes: 1024,
        ..MetricTopologyConfig::default()
    };
    let mut d = TopologyTestDriver::new(metric_topology(&config));
    let pad = "x".repeat(2000);
    let big = format!(r#"{{"metricset":{{"name":"cpu"}},"pad":"{pad}"}}"#);
    assert!(d.pipe_input("metric.all", &big).is_empty());
    assert_eq!(d.rejections()[0].reason.code, "too-large");
    // Under the default limit (1 MB) the same record routes.
    let mut d = driver();
    assert_eq!(d.pipe_input("metric.all", &big).len(), 1);
}

#[test]
fn bad_records_never_stop_the_stream() {
    let mut d = driver();
    let good = r#"{"metricset":{"name":"memory"}}"#;
    let inputs: Vec<Vec<u8>> = vec![
        b"\xff".to_vec(),
        b"{".to_vec(),
        good.as_bytes().to_vec(),
        b"null".to_vec(),
        vec![b'['; 100_000],
        good.as_bytes().to_vec(),
    ];
    for i in &inputs {
        d.pipe_input("metric.all", i);
    }
    assert_eq!(d.read_output("metric.memory").len(), 2);
    assert_eq!(d.rejections().len(), 4);
}

/// Kafka Streams 4.3.1's `Topology.describe()` printed this for the reference Java app's
/// topology (the same DSL calls, run with the kafka-streams jar).
#[test]
fn describe_matches_kafka_streams() {
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [metric.all])
      --> metric-
    Processor: metric- (stores: [])
      --> metric-cpu, metric-memory
      <-- KSTREAM-SOURCE-0000000000
    Processor: metric-cpu (stores: [])
      --> KSTREAM-FILTER-0000000006, KSTREAM-SINK-0000000004
      <-- metric-
    Processor: KSTREAM-FILTER-0000000006 (stores: [])
      --> KSTREAM-MAPVALUES-0000000007
      <-- metric-cpu
    Processor: KSTREAM-MAPVALUES-0000000007 (stores: [])
      --> KSTREAM-SINK-0000000008
      <-- KSTREAM-FILTER-0000000006
    Processor: metric-memory (stores: [])
      --> KSTREAM-SINK-0000000005
      <-- metric-
    Sink: KSTREAM-SINK-0000000004 (topic: metric.cpu)
      <-- metric-cpu
    Sink: KSTREAM-SINK-0000000005 (topic: metric.memory)
      <-- metric-memory
    Sink: KSTREAM-SINK-0000000008 (topic: metric.cpu.alert)
      <-- KSTREAM-MAPVALUES-0000000007

";
    let topology = metric_topology(&MetricTopologyConfig::default());
    assert_eq!(topology.describe().to_string(), expected);
}
