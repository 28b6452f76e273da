//! The pipeline on a SASL_SSL cluster (SCRAM-SHA-512, ACLs), with only the security keys
//! an operator adds: the agent from metricbeat.yml (`username`, `password` from `${ENV}`,
//! `sasl.mechanism`, `ssl.certificate_authorities`), streams and topics from a Java client
//! properties file as kafka-console-consumer takes it. Each user has ACLs on its own topics
//! and group only; a user with none is refused with the right message.

use crate::drill_common;
use crate::secured_common;

use std::time::{Duration, Instant};

use drill_common::{free_port, Proc};
use metricpipe_local::{Acl, LocalCluster};
use secured_common::{
    agent_test_output, create_topics, readyz, scram_keys, spawn_agent, values, wait_until, Topics,
};

/// How many records `topic` (1 partition) holds now, read as the super user.
fn count(cluster: &LocalCluster, topic: &str) -> usize {
    values(cluster, topic).len()
}

#[test]
fn agent_streams_alerts_over_sasl_ssl_scram_with_acls() {
    let started = Instant::now();
    // The run's secured cluster: this test's users are `agent`, `streams` and `nobody`
    // (metricpipe_testkit::SECURED_USERS), its topics and group the defaults.
    let cluster = metricpipe_testkit::secured_cluster();
    let up = started.elapsed();
    let b = cluster.bootstrap_servers();

    // topics, as the super user, from the client properties file.
    let topics_took = create_topics(&cluster, &Topics::prefixed(""));

    let t = Instant::now();
    cluster
        .add_acls(&Acl::pipeline(
            "agent",
            "streams",
            "metric-streams-application",
        ))
        .unwrap();
    let acls_took = t.elapsed();

    // The agent: a Metricbeat config plus the usual security keys; the password from ${ENV}.
    let dir = tempfile::tempdir().unwrap();
    let keys = scram_keys(&cluster, "agent", "${METRICPIPE_TEST_AGENT_PASSWORD}");
    std::env::set_var("METRICPIPE_TEST_AGENT_PASSWORD", "agent-pw");
    let mut agent = spawn_agent("agent", dir.path(), &cluster, "metric.all", &keys, None);

    // streams, from the properties file an operator gives kafka-console-consumer.
    let streams_props = cluster.user_client_properties("streams").unwrap();
    let port = free_port();
    let streams_args = |props: &std::path::Path, app: &str, port: u16| -> Vec<String> {
        vec![
            "streams".into(),
            "-b".into(),
            b.clone(),
            "--command-config".into(),
            props.display().to_string(),
            "--application-id".into(),
            app.into(),
            "--threshold".into(),
            "0".into(),
            "--metrics-addr".into(),
            format!("127.0.0.1:{port}"),
        ]
    };
    let mut streams = Proc::spawn(
        "streams",
        &streams_args(&streams_props, "metric-streams-application", port),
    );

    let t = Instant::now();
    wait_until(
        "alerts and memory records arrive",
        Duration::from_secs(90),
        || count(&cluster, "metric.cpu.alert") >= 1 && count(&cluster, "metric.memory") >= 1,
    );
    let flow_took = t.elapsed();
    assert!(agent.running(), "agent exited:\n{}", agent.log());
    assert!(streams.running(), "streams exited:\n{}", streams.log());
    wait_until("streams /readyz is 200", Duration::from_secs(20), || {
        readyz(port).is_some_and(|(s, _)| s == 200)
    });
    let agent_log = agent.log();
    assert!(
        !agent_log.contains("agent-pw"),
        "the password is logged:\n{agent_log}"
    );
    assert!(
        !streams.log().contains("streams-pw"),
        "the password is logged"
    );

    // A user with no ACLs: refused, named as an authorization failure, never "does not exist".
    let nobody_props = cluster.user_client_properties("nobody").unwrap();
    let nobody_port = free_port();
    let mut nobody = Proc::spawn(
        "nobody",
        &streams_args(&nobody_props, "nobody-app", nobody_port),
    );
    let t = Instant::now();
    wait_until(
        "the refused user's log names authorization",
        Duration::from_secs(30),
        || {
            nobody
                .log()
                .contains("not authorized for topic metric.all (TOPIC_AUTHORIZATION_FAILED)")
        },
    );
    let refused_took = t.elapsed();
    let log = nobody.log();
    assert!(!log.contains("does not exist"), "blames the topic:\n{log}");
    eprintln!("refused user's log:\n{log}");
    let mut status = None;
    wait_until(
        "the refused user's /readyz is 503 naming the ACL",
        Duration::from_secs(20),
        || {
            status = readyz(nobody_port);
            status
                .as_ref()
                .is_some_and(|(s, body)| *s == 503 && body.contains("TOPIC_AUTHORIZATION_FAILED"))
        },
    );
    eprintln!("refused user's /readyz: {status:?}");
    nobody.sigkill();

    // The agent with a wrong password: the cause and the setting in one line, /readyz 503.
    let bad_dir = tempfile::tempdir().unwrap();
    let bad_port = free_port();
    let bad_keys = scram_keys(&cluster, "agent", "not-the-password");
    let mut bad_agent = spawn_agent(
        "bad-agent",
        bad_dir.path(),
        &cluster,
        "metric.all",
        &bad_keys,
        Some(bad_port),
    );
    let t = Instant::now();
    wait_until(
        "the agent names the wrong password",
        Duration::from_secs(30),
        || {
            bad_agent
                .log()
                .contains("SASL authentication failed: wrong username or password")
        },
    );
    let wrong_pw_took = t.elapsed();
    wait_until(
        "the agent's /readyz is 503 naming the password",
        Duration::from_secs(20),
        || {
            readyz(bad_port)
                .is_some_and(|(s, body)| s == 503 && body.contains("wrong username or password"))
        },
    );
    assert!(
        !bad_agent.log().contains("not-the-password"),
        "the password is logged"
    );
    eprintln!("wrong password named in {wrong_pw_took:?}");
    bad_agent.sigkill();
    let (ok, text) = agent_test_output(bad_dir.path(), &cluster, "metric.all", &bad_keys);
    eprintln!("agent test output with a wrong password:\n{text}");
    assert!(
        !ok && text.contains("ERROR SASL authentication failed"),
        "{text}"
    );
    assert!(
        text.contains("security: SASL_SSL, SCRAM-SHA-512 as agent"),
        "{text}"
    );
    assert!(!text.contains("not-the-password"), "{text}");

    agent.sigkill();
    streams.sigkill();
    eprintln!(
        "cluster up {up:?}; topics create {topics_took:?}; ACLs {acls_took:?}; first alert {flow_took:?}; refusal named in {refused_took:?}; whole test {:?}",
        started.elapsed()
    );
}
