//! Every broker killed for 30 s: the agent keeps collecting, memory stays bounded, and
//! delivery resumes after the restart without restarting the agent.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use metricpipe_testkit::kill_drill_cluster;

#[test]
fn agent_survives_a_full_broker_outage() {
    // Kills brokers: the binary's kill-drill cluster, not the run's shared one.
    let cluster = kill_drill_cluster();
    let bootstrap = cluster.bootstrap_servers();
    create_topic(&bootstrap, "metric.all");

    let agent = start_agent(&agent_yaml(&bootstrap, "metric.all", ""));
    // A tiny queue, to see drop-oldest at work during the same outage.
    let small = start_agent(&agent_yaml(
        &bootstrap,
        "metric.all",
        "queue.mem.events: 10\n",
    ));
    let before = consume_until(&bootstrap, "metric.all", Duration::from_secs(60), |r| {
        r.len() >= 4
    });
    assert!(before.len() >= 4, "no events before the outage");

    let ids: Vec<u32> = cluster.nodes().iter().map(|n| n.id).collect();
    for id in &ids {
        cluster.kill(*id).unwrap();
    }
    let down = agent.stats();
    std::thread::sleep(Duration::from_secs(30));
    let during = agent.stats();
    let small_during = small.stats();
    // Two metricsets at 1 s: about 60 events in 30 s, collected while nothing is delivered.
    assert!(
        during.events - down.events >= 40,
        "collection stalled: {down:?} -> {during:?}"
    );
    let sink = small_during.sink.unwrap();
    assert!(
        sink.queued + sink.in_flight <= 10,
        "the small queue overflowed: {sink:?}"
    );
    assert!(
        sink.dropped > 0,
        "the small queue should have dropped the oldest events: {sink:?}"
    );

    let restarted = Instant::now();
    for id in &ids {
        cluster.start(*id).unwrap();
    }
    cluster
        .wait_ready(ids.len(), Duration::from_secs(120))
        .unwrap();
    let since_restart = metricpipe_collect::format_timestamp(std::time::SystemTime::now());
    let after = consume_until(&bootstrap, "metric.all", Duration::from_secs(120), |r| {
        r.iter()
            .filter(|r| r.value["@timestamp"].as_str() > Some(since_restart.as_str()))
            .count()
            >= 4
    });
    let fresh = after
        .iter()
        .filter(|r| r.value["@timestamp"].as_str() > Some(since_restart.as_str()))
        .count();
    assert!(
        fresh >= 4,
        "no new events {:?} after the restart",
        restarted.elapsed()
    );

    let stats = agent.stop(Duration::from_secs(30)).unwrap();
    let sink = stats.sink.unwrap();
    assert!(sink.sent > during.sink.unwrap().sent, "{stats:?}");
    assert_eq!(sink.dropped, 0, "3200 events were never reached: {stats:?}");
    // Every collected event is accounted for, exactly.
    let small_stats = small.stop(Duration::from_secs(30)).unwrap();
    let s = small_stats.sink.unwrap();
    assert_eq!(
        s.sent + s.dropped + s.failed,
        small_stats.events,
        "{small_stats:?}"
    );
    assert!(s.sent > 0);
}
