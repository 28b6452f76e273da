//! Bad configuration: an error that names the key, never a panic, and the warning that
//! explains it always shown.

use std::time::Duration;

use metricpipe_agent::config::{from_yaml, parse_go_duration, GO_MAX_DURATION};
use proptest::prelude::*;

fn err_of(yaml: &str) -> String {
    match from_yaml(yaml) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

const OUT: &str = "output.console: {}\n";

#[test]
fn one_metricset_string_with_a_comma_keeps_its_warning_in_the_error() {
    let err = err_of(&format!(
        "metricbeat.modules: [{{module: system, metricsets: [\"cpu, memory\"]}}]\n{OUT}"
    ));
    assert!(err.contains("`system/cpu, memory`"), "{err}");
    assert!(err.contains("metricsets: [cpu, memory]"), "{err}");
    assert!(err.contains("nothing to collect"), "{err}");
}

#[test]
fn periods_outside_go_range_name_the_key() {
    for period in [
        "1e20",
        "1e19",
        "9223372037",
        "'2562048h'",
        "'99999999999999999999s'",
    ] {
        let err = err_of(&format!(
            "metricbeat.modules: [{{module: system, period: {period}}}]\n{OUT}"
        ));
        assert!(
            err.contains("`metricbeat.modules.0.period`") && err.contains("out of range"),
            "{period}: {err}"
        );
    }
    let err = err_of(&format!(
        "metricbeat.max_start_delay: 1e300\nmetricbeat.modules: [{{module: system}}]\n{OUT}"
    ));
    assert!(err.contains("`metricbeat.max_start_delay`"), "{err}");
    // The largest Go duration is still accepted.
    let c = from_yaml(&format!(
        "metricbeat.modules: [{{module: system, period: '2562047h'}}]\n{OUT}"
    ))
    .unwrap();
    assert_eq!(c.modules[0].period, Duration::from_secs(2562047 * 3600));
}

#[test]
fn kafka_values_are_checked_with_the_metricbeat_key() {
    let kafka = |extra: &str| {
        format!("metricbeat.modules: [{{module: system}}]\noutput.kafka:\n  hosts: [\"k:9092\"]\n  topic: t\n{extra}")
    };
    for (extra, key) in [
        (
            "  max_message_bytes: 300\n",
            "`output.kafka.max_message_bytes`",
        ),
        (
            "  max_message_bytes: 0\n",
            "`output.kafka.max_message_bytes`",
        ),
        (
            "  compression_level: 11\n",
            "`output.kafka.compression_level`",
        ),
        ("  client_id: ''\n", "`output.kafka.client_id`"),
        ("  required_acks: 2\n", "`output.kafka.required_acks`"),
    ] {
        let err = err_of(&kafka(extra));
        assert!(
            err.contains(key) && !err.contains("hosts"),
            "{extra}: {err}"
        );
    }
    let c = from_yaml(&kafka("  compression: lz4\n  compression_level: 11\n")).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

proptest! {
    #[test]
    fn numeric_durations_never_panic(secs in proptest::num::f64::ANY) {
        let node_yaml = format!("metricbeat.modules: [{{module: system, period: {secs:e}}}]\n{OUT}");
        if let Ok(c) = from_yaml(&node_yaml) {
            prop_assert!(c.modules[0].period <= GO_MAX_DURATION);
        }
    }

    #[test]
    fn duration_strings_never_panic(text in "[0-9.]{0,25}(ns|us|ms|s|m|h|x)?([0-9.]{0,5}(s|m|h))?") {
        if let Ok(d) = parse_go_duration(&text) {
            prop_assert!(d <= GO_MAX_DURATION);
        }
    }

    #[test]
    fn integer_durations_never_panic(secs in any::<i64>()) {
        let node = metricpipe_agent::config::from_yaml(&format!(
            "metricbeat.modules: [{{module: system, period: {secs}}}]\n{OUT}"
        ));
        if let Ok(c) = node {
            prop_assert!(c.modules[0].period <= GO_MAX_DURATION);
        }
    }
}
