//! Events reach metric.all on a real cluster, parse as Metricbeat events, carry no key and
//! spread over partitions.

use crate::common;

use std::time::Duration;

use common::*;
use metricpipe_testkit::shared_cluster;

#[test]
fn events_arrive_in_metric_all_and_parse() {
    let bootstrap = shared_cluster().bootstrap_servers();
    // The run's cluster: topics of this test's own. The dynamic topic's names are the
    // metricset names, so only this test may create `cpu` and `memory` there.
    let all = metricpipe_testkit::unique("metric.all");
    create_topic(&bootstrap, &all);
    create_topic(&bootstrap, "cpu");
    create_topic(&bootstrap, "memory");

    let agent = start_agent(&agent_yaml(&bootstrap, &all, ""));
    let reads = consume_until(&bootstrap, &all, Duration::from_secs(90), |r| {
        count(r, "cpu") >= 6 && count(r, "memory") >= 6
    });
    let stats = agent.stop(Duration::from_secs(10)).unwrap();
    assert!(
        count(&reads, "cpu") >= 6 && count(&reads, "memory") >= 6,
        "got {} records",
        reads.len()
    );

    for r in &reads {
        let v = &r.value;
        assert!(!r.has_key, "records carry no key");
        assert_eq!(v["@metadata"]["beat"], "metricbeat");
        assert_eq!(v["host"]["name"], "it-agent");
        assert_eq!(v["agent"]["name"], "it-agent");
        assert_eq!(v["ecs"]["version"], "8.0.0");
        assert_eq!(v["service"]["type"], "system");
        assert_eq!(v["metricset"]["period"], 1000);
        assert!(v["event"]["duration"].is_u64());
        match v["metricset"]["name"].as_str() {
            Some("cpu") => {
                let cores = v["system"]["cpu"]["cores"].as_u64().unwrap();
                assert!(cores >= 1);
                let norm = v["system"]["cpu"]["total"]["norm"]["pct"].as_f64().unwrap();
                assert!((-0.0001..=1.0001).contains(&norm), "{norm}");
                assert_eq!(v["host"]["cpu"]["usage"].as_f64(), Some(norm));
                for state in [
                    "user", "system", "idle", "nice", "iowait", "irq", "softirq", "steal",
                ] {
                    assert!(v["system"]["cpu"][state]["pct"].is_number(), "{state}");
                }
            }
            Some("memory") => {
                let total = v["system"]["memory"]["total"].as_u64().unwrap();
                let free = v["system"]["memory"]["free"].as_u64().unwrap();
                assert_eq!(
                    v["system"]["memory"]["used"]["bytes"].as_u64(),
                    Some(total - free)
                );
                assert!(v["system"]["memory"]["actual"]["free"].is_u64());
            }
            other => panic!("unexpected metricset {other:?}"),
        }
    }
    let partitions: std::collections::BTreeSet<i32> = reads.iter().map(|r| r.partition).collect();
    assert!(
        partitions.len() >= 2,
        "records should spread over partitions, got {partitions:?}"
    );
    let sink = stats.sink.unwrap();
    assert_eq!(sink.dropped + sink.failed, 0, "{stats:?}");
    assert!(sink.sent >= reads.len() as u64);

    // A dynamic topic, as `topic: '%{[metricset.name]}'` gives in Metricbeat.
    let agent = start_agent(&agent_yaml(&bootstrap, "%{[metricset.name]}", ""));
    let cpu = consume_until(&bootstrap, "cpu", Duration::from_secs(60), |r| {
        !r.is_empty()
    });
    let memory = consume_until(&bootstrap, "memory", Duration::from_secs(60), |r| {
        !r.is_empty()
    });
    agent.stop(Duration::from_secs(10)).unwrap();
    assert!(!cpu.is_empty() && cpu.iter().all(|r| r.value["metricset"]["name"] == "cpu"));
    assert!(
        !memory.is_empty()
            && memory
                .iter()
                .all(|r| r.value["metricset"]["name"] == "memory")
    );
}
