//! Property tests of the record router (the metric topology through the test driver):
//! - arbitrary bytes, and valid events cut or corrupted anywhere, never panic; whatever is
//!   routed to metric.cpu / metric.memory is the input byte for byte, at most once;
//! - a valid event routes as the spec says: by `metricset.name` alone, an alert exactly when
//!   `system.cpu.total.norm.pct` is a number strictly above the threshold and `host` is an
//!   object, with the value `host` + `timestamp`; every other cpu case is `unalertable`.

use metricpipe_streams::TopologyTestDriver;
use metricpipe_topology::{metric_topology, MetricFields, MetricTopologyConfig};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn driver(threshold: f64) -> TopologyTestDriver<MetricFields> {
    TopologyTestDriver::new(metric_topology(&MetricTopologyConfig {
        threshold,
        ..MetricTopologyConfig::default()
    }))
}

/// Routed outputs must be the input untouched, and one at most.
fn check_routing_invariants(
    d: &mut TopologyTestDriver<MetricFields>,
    input: &[u8],
) -> Result<(), TestCaseError> {
    let outputs = d.pipe_input("metric.all", input).to_vec();
    let routed: Vec<_> = outputs
        .iter()
        .filter(|r| r.topic == "metric.cpu" || r.topic == "metric.memory")
        .collect();
    prop_assert!(routed.len() <= 1, "routed twice: {:?}", routed);
    for r in &routed {
        prop_assert_eq!(&r.value[..], input);
    }
    for r in outputs.iter().filter(|r| r.topic == "metric.cpu.alert") {
        prop_assert!(serde_json::from_slice::<Value>(&r.value).is_ok_and(|v| v.is_object()));
    }
    Ok(())
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9.-]{0,12}",
        any::<String>(),
        Just("h\u{e9}\"\\/<>&=' \u{2028}\n".to_string()),
    ]
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z@._]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Pct {
    Number(f64),
    /// A percentage that is not a JSON number: string, null, bool, object.
    NotNumber(Value),
    Missing,
}

#[derive(Debug, Clone)]
struct Event {
    name: String,
    pct: Pct,
    host: Option<Value>,
    timestamp: Option<String>,
    extra: Map<String, Value>,
}

fn event() -> impl Strategy<Value = Event> {
    let name = prop_oneof![
        3 => Just("cpu".to_string()),
        3 => Just("memory".to_string()),
        1 => prop_oneof![Just("CPU".to_string()), Just("network".to_string()), "[a-z]{0,8}"],
    ];
    let pct = prop_oneof![
        4 => (0.0f64..=1.0).prop_map(Pct::Number),
        1 => prop_oneof![Just(0.5), Just(0.0), Just(1.0), Just(1e-9), Just(-0.0)].prop_map(Pct::Number),
        1 => prop_oneof![
            Just(json!("0.9")),
            Just(Value::Null),
            Just(json!(true)),
            Just(json!({"pct": 0.9})),
        ]
        .prop_map(Pct::NotNumber),
        1 => Just(Pct::Missing),
    ];
    let host = prop_oneof![
        4 => (text(), prop::collection::btree_map("[a-z]{1,6}", any_json(), 0..3)).prop_map(
            |(name, more)| {
                let mut h: Map<String, Value> =
                    more.into_iter().filter(|(k, _)| k != "timestamp").collect();
                h.insert("name".into(), Value::String(name));
                Some(Value::Object(h))
            }
        ),
        1 => Just(None),
        1 => prop_oneof![Just(Value::Null), Just(json!("web-1")), Just(json!([1]))].prop_map(Some),
    ];
    let timestamp = prop_oneof![
        4 => Just(Some("2025-12-28T04:56:17.004Z".to_string())),
        1 => text().prop_map(Some),
        1 => Just(None),
    ];
    let extra = prop::collection::btree_map("[a-z_]{1,8}", any_json(), 0..4);
    (name, pct, host, timestamp, extra).prop_map(|(name, pct, host, timestamp, extra)| Event {
        name,
        pct,
        host,
        timestamp,
        extra: extra
            .into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), "metricset" | "system" | "host"))
            .collect(),
    })
}

impl Event {
    fn to_json(&self) -> Value {
        let mut v = Value::Object(self.extra.clone());
        v["metricset"] = json!({"name": self.name, "period": 10000});
        match &self.pct {
            Pct::Number(p) => {
                v["system"] = json!({"cpu": {"cores": 2, "total": {"norm": {"pct": p}}}})
            }
            Pct::NotNumber(p) => v["system"] = json!({"cpu": {"total": {"norm": {"pct": p}}}}),
            Pct::Missing => {}
        }
        if let Some(h) = &self.host {
            v["host"] = h.clone();
        }
        if let Some(t) = &self.timestamp {
            v["@timestamp"] = json!(t);
        }
        v
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut d = driver(0.5);
        check_routing_invariants(&mut d, &bytes)?;
    }

    #[test]
    fn cut_or_corrupted_events_never_panic(
        e in event(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut bytes = serde_json::to_vec(&e.to_json()).unwrap();
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep.max(1));
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let mut d = driver(0.5);
        check_routing_invariants(&mut d, &bytes)?;
    }

    #[test]
    fn valid_events_route_as_the_spec_says(
        e in event(),
        threshold in prop_oneof![Just(0.5), 0.0f64..1.0],
        pretty in any::<bool>(),
    ) {
        let value = e.to_json();
        let input = if pretty {
            serde_json::to_vec_pretty(&value).unwrap()
        } else {
            serde_json::to_vec(&value).unwrap()
        };
        let mut d = driver(threshold);
        let out = d.pipe_input("metric.all", &input).to_vec();
        let rejections: Vec<&str> = d.rejections().iter().map(|r| r.reason.code).collect();
        let topics: Vec<&str> = out.iter().map(|r| r.topic.as_str()).collect();
        match e.name.as_str() {
            "memory" => {
                prop_assert_eq!(topics, vec!["metric.memory"]);
                prop_assert_eq!(&out[0].value, &input);
                prop_assert!(rejections.is_empty(), "{:?}", rejections);
            }
            "cpu" => {
                prop_assert_eq!(topics[0], "metric.cpu");
                prop_assert_eq!(&out[0].value, &input);
                let above = matches!(e.pct, Pct::Number(p) if p > threshold);
                let host = e.host.as_ref().filter(|h| h.is_object());
                match (above, host, &e.pct) {
                    (true, Some(host), _) => {
                        prop_assert_eq!(topics.len(), 2);
                        prop_assert_eq!(topics[1], "metric.cpu.alert");
                        let alert: Value = serde_json::from_slice(&out[1].value).unwrap();
                        // Number literals are kept as written: compare through the same
                        // parse of the same text.
                        let reparsed: Value = serde_json::from_slice(&input).unwrap();
                        prop_assert_eq!(&reparsed["host"].as_object().map(|o| o.len()), &host.as_object().map(|o| o.len()));
                        let mut want = reparsed["host"].clone();
                        want["timestamp"] = e.timestamp.clone().map_or(Value::Null, Value::String);
                        prop_assert_eq!(alert, want);
                        prop_assert!(rejections.is_empty(), "{:?}", rejections);
                    }
                    (false, _, Pct::Number(_)) => {
                        prop_assert_eq!(topics.len(), 1);
                        prop_assert!(rejections.is_empty(), "{:?}", rejections);
                    }
                    _ => {
                        // Not a number, missing, or above the threshold with no host object.
                        prop_assert_eq!(topics.len(), 1);
                        prop_assert_eq!(rejections, vec!["unalertable"]);
                    }
                }
            }
            _ => {
                prop_assert!(out.is_empty(), "{:?}", out);
                prop_assert!(rejections.is_empty(), "{:?}", rejections);
            }
        }
    }
}
