//! A missing ACL on a topic written to loses nothing (#21's TOPIC_AUTHORIZATION_FAILED row,
//! #17's "nothing is lost once it is fixed"), on a real SASL_SSL cluster with ACLs:
//!
//! - the agent without Write on `metric.all`: its events wait in its queue (retried, not
//!   failed), one line and `/readyz` 503 name the ACL; once Write is granted every event
//!   arrives, and `events = sent`, 0 dropped, 0 failed;
//! - streams without Write on `metric.cpu`: it stops with the cause named (as Kafka
//!   Streams' thread dies), committing nothing past the refused record; once Write is
//!   granted a restart routes every input record (duplicates are counted, none lost).
//!
//! The cluster is the run's secured one: the topics here are `refusals.metric.all`, …, the
//! users `refusals-agent` and `refusals-streams`.

use crate::drill_common;
use crate::secured_common;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use drill_common::{agent_figures, free_port, Proc};
use metricpipe_local::{Acl, LocalCluster, Operation, Resource};
use rdkafka::consumer::Consumer;
use rdkafka::TopicPartitionList;
use secured_common::{
    admin_consumer, agent_test_output, create_topics, readyz, scram_keys, spawn_agent, values,
    wait_until, Topics,
};

// This test's own names on the run's secured cluster (metricpipe_testkit::SECURED_USERS),
// so that the ACLs other secured tests grant cannot reach it.
const GROUP: &str = "refusals-streams-application";
const AGENT: &str = "refusals-agent";
const STREAMS: &str = "refusals-streams";
const PREFIX: &str = "refusals.";

/// The group's committed offset on `topic` partition 0, if any.
fn committed(cluster: &LocalCluster, topic: &str) -> Option<i64> {
    let consumer = admin_consumer(cluster, GROUP);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let got = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    got.elements()[0].offset().to_raw().filter(|o| *o >= 0)
}

fn streams(b: &str, topics: &Topics, props: &Path, port: u16, extra: &[&str]) -> Proc {
    let mut args: Vec<String> = vec![
        "streams".into(),
        "-b".into(),
        b.into(),
        "--command-config".into(),
        props.display().to_string(),
        "--application-id".into(),
        GROUP.into(),
        "--metrics-addr".into(),
        format!("127.0.0.1:{port}"),
    ];
    args.extend(topics.streams_args());
    args.extend(extra.iter().map(|s| s.to_string()));
    Proc::spawn("streams", &args)
}

#[test]
fn a_missing_write_acl_loses_nothing_once_granted() {
    let started = Instant::now();
    let cluster = metricpipe_testkit::secured_cluster();
    let b = cluster.bootstrap_servers();
    let topics = Topics::prefixed(PREFIX);
    create_topics(&cluster, &topics);
    let topic = |n: &str| Resource::Topic(n.into());
    // streams may write to every output but metric.cpu; the agent may write nowhere.
    cluster
        .add_acls(&[
            Acl::allow(STREAMS, topic(&topics.all), Operation::Read),
            Acl::allow(STREAMS, topic(&topics.memory), Operation::Write),
            Acl::allow(STREAMS, topic(&topics.alert), Operation::Write),
            Acl::allow(STREAMS, Resource::Group(GROUP.into()), Operation::Read),
        ])
        .unwrap();

    // The agent without Write on metric.all.
    let dir = tempfile::tempdir().unwrap();
    let agent_port = free_port();
    let keys = scram_keys(&cluster, AGENT, "refusals-agent-pw");
    let refused_all = format!(
        "not authorized for topic {} (TOPIC_AUTHORIZATION_FAILED)",
        topics.all
    );
    let mut agent = spawn_agent(
        "agent",
        dir.path(),
        &cluster,
        &topics.all,
        &keys,
        Some(agent_port),
    );
    let named = wait_until("the agent names the ACL", Duration::from_secs(30), || {
        agent.log().contains(&refused_all)
    });
    wait_until(
        "the agent's /readyz is 503",
        Duration::from_secs(20),
        || readyz(agent_port).is_some_and(|(s, body)| s == 503 && body.contains(&topics.all)),
    );
    // `agent test output` names the missing ACL per broker (its time also lets events
    // pile up while the ACL is missing).
    let test_dir = tempfile::tempdir().unwrap();
    let (ok, text) = agent_test_output(test_dir.path(), &cluster, &topics.all, &keys);
    eprintln!("agent test output without the ACL:\n{text}");
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("topic {}... ", topics.all))
            && text.contains(&format!("ERROR not authorized for topic {}", topics.all)),
        "{text}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(agent.running(), "agent exited:\n{}", agent.log());
    assert!(values(&cluster, &topics.all).is_empty());

    cluster
        .add_acls(&[Acl::allow(AGENT, topic(&topics.all), Operation::Write)])
        .unwrap();
    let granted = Instant::now();
    let resumed = wait_until(
        "the agent's events arrive after the grant",
        Duration::from_secs(60),
        || !values(&cluster, &topics.all).is_empty(),
    );
    wait_until(
        "the agent's /readyz is 200",
        Duration::from_secs(20),
        || readyz(agent_port).is_some_and(|(s, _)| s == 200),
    );
    let status = agent.terminate(Duration::from_secs(30));
    assert!(status.success(), "agent: {status:?}\n{}", agent.log());
    let figures = agent_figures(&agent.log());
    let input = values(&cluster, &topics.all);
    let distinct: HashSet<&Vec<u8>> = input.iter().collect();
    eprintln!(
        "agent: refusal named in {named:?}; delivery resumed {resumed:?} after the grant ({:?} incl. reads); {figures:?}; metric.all holds {} ({} distinct)",
        granted.elapsed(),
        input.len(),
        distinct.len()
    );
    let agent_log = agent.log();
    for line in agent_log
        .lines()
        .filter(|l| l.contains("TOPIC_AUTHORIZATION"))
    {
        eprintln!("agent log: {line}");
    }
    assert_eq!(figures.failed, 0, "{}", agent.log());
    assert_eq!(figures.dropped, 0, "{}", agent.log());
    assert_eq!(figures.sent, figures.events, "every event was sent");
    assert_eq!(
        distinct.len() as u64,
        figures.sent,
        "every event is in the topic"
    );

    // streams without Write on metric.cpu: stops, naming it, committing nothing past it.
    let props = cluster.user_client_properties(STREAMS).unwrap();
    let mut first = streams(&b, &topics, &props, free_port(), &[]);
    let t = Instant::now();
    let status = first
        .wait_for(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("streams still running:\n{}", first.log()));
    let stopped = t.elapsed();
    let log = first.log();
    assert!(!status.success(), "streams must fail:\n{log}");
    assert!(
        log.contains(&format!(
            "not authorized for topic {} (TOPIC_AUTHORIZATION_FAILED)",
            topics.cpu
        )),
        "{log}"
    );
    assert!(!log.contains("does not exist"), "{log}");
    for line in log.lines().filter(|l| l.contains(&topics.cpu)) {
        eprintln!("streams log: {line}");
    }
    let at_stop = committed(&cluster, &topics.all);
    let first_cpu = input
        .iter()
        .position(|v| String::from_utf8_lossy(v).contains("\"name\":\"cpu\""))
        .expect("a cpu event") as i64;
    assert!(
        at_stop.is_none_or(|o| o <= first_cpu),
        "committed {at_stop:?} past the first cpu record at {first_cpu}"
    );

    cluster
        .add_acls(&[Acl::allow(STREAMS, topic(&topics.cpu), Operation::Write)])
        .unwrap();
    let mut second = streams(
        &b,
        &topics,
        &props,
        free_port(),
        &["--exit-when-idle", "5s"],
    );
    let status = second
        .wait_for(Duration::from_secs(90))
        .unwrap_or_else(|| panic!("streams did not finish:\n{}", second.log()));
    assert!(status.success(), "{}", second.log());
    let routed: Vec<Vec<u8>> = [&topics.cpu, &topics.memory]
        .iter()
        .flat_map(|t| values(&cluster, t))
        .collect();
    let routed_set: HashSet<&Vec<u8>> = routed.iter().collect();
    let lost = distinct.iter().filter(|v| !routed_set.contains(*v)).count();
    eprintln!(
        "streams: stopped {stopped:?} after start, committed at stop {at_stop:?}; after the grant: {} input, {} routed, {} lost, {} duplicates; whole test {:?}",
        distinct.len(),
        routed.len(),
        lost,
        routed.len() - routed_set.len(),
        started.elapsed()
    );
    assert_eq!(lost, 0, "every input record is routed");
    assert_eq!(committed(&cluster, &topics.all), Some(input.len() as i64));
}
