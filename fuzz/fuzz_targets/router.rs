//! The record router (the metric topology) on arbitrary bytes: it must never panic, every
//! record routed to metric.cpu / metric.memory is the input byte for byte and routed at most
//! once, and every alert is a JSON object.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use metricpipe_streams::{Output, Reason, SinkId, Topology};
use metricpipe_topology::{metric_topology, MetricFields, MetricTopologyConfig};

struct Check<'a> {
    input: &'a [u8],
    routed: usize,
}

impl Output for Check<'_> {
    fn emit(&mut self, _sink: SinkId, topic: &str, value: &[u8]) {
        if topic == "metric.cpu.alert" {
            let alert: serde_json::Value = serde_json::from_slice(value).expect("an alert is JSON");
            assert!(alert.is_object(), "an alert is a JSON object");
        } else {
            assert_eq!(value, self.input, "routed values are the input bytes");
            self.routed += 1;
        }
    }

    fn reject(&mut self, _node: &str, reason: Reason) {
        assert!(!reason.code.is_empty());
    }
}

fn topology() -> &'static Topology<MetricFields> {
    static TOPOLOGY: OnceLock<Topology<MetricFields>> = OnceLock::new();
    TOPOLOGY.get_or_init(|| metric_topology(&MetricTopologyConfig::default()))
}

fuzz_target!(|data: &[u8]| {
    let mut check = Check {
        input: data,
        routed: 0,
    };
    topology().process(0, data, &mut check);
    assert!(check.routed <= 1, "a record is routed at most once");
});
