//! The pipeline on a SASL_SSL cluster (SCRAM-SHA-512, ACLs), with only the security keys
//! an operator adds: the agent from metricbeat.yml (`username`, `password` from `${ENV}`,
//! `sasl.mechanism`, `ssl.certificate_authorities`), streams and topics from a Java client
//! properties file as kafka-console-consumer takes it. Each user has ACLs on its own topics
//! and group only; a user with none is refused with the right message.

mod drill_common;

use std::time::{Duration, Instant};

use drill_common::{agent_yaml, Proc, BIN};
use metricpipe_local::{
    Acl, ClusterOptions, LocalCluster, Operation, Resource, SecurityMode, User,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// How many records `topic` (1 partition) holds now, read as the super user.
fn count(cluster: &LocalCluster, topic: &str) -> usize {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", "secured-test-reader")
        .set("enable.auto.commit", "false")
        .set("log_level", "3");
    for (k, v) in cluster.client_config() {
        c.set(k, v);
    }
    let consumer: BaseConsumer = c.create().unwrap();
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while (n as i64) < high && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            assert!(m.payload().is_some());
            n += 1;
        }
    }
    n
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "{what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn readyz(port: u16) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(b"GET /readyz HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        status,
        text.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    ))
}

#[test]
fn agent_streams_alerts_over_sasl_ssl_scram_with_acls() {
    let started = Instant::now();
    let cluster = LocalCluster::up(ClusterOptions::secured(
        1,
        SecurityMode::SaslSsl,
        vec![
            User::new("agent", "agent-pw"),
            User::new("streams", "streams-pw"),
            User::new("nobody", "nobody-pw"),
        ],
    ))
    .expect("SASL_SSL cluster");
    let up = started.elapsed();
    let b = cluster.bootstrap_servers();
    let admin_props = cluster.client_properties_path().unwrap();

    // topics, as the super user, from the client properties file.
    let t = Instant::now();
    let out = std::process::Command::new(BIN)
        .args(["topics", "create", "-b", &b, "--partitions", "1"])
        .args(["--replication-factor", "1", "--command-config"])
        .arg(&admin_props)
        .output()
        .unwrap();
    assert!(out.status.success(), "topics create: {out:?}");
    let topics_took = t.elapsed();

    let t = Instant::now();
    let topic = |n: &str| Resource::Topic(n.into());
    cluster
        .add_acls(&[
            Acl::allow("agent", topic("metric.all"), Operation::Write),
            Acl::allow("streams", topic("metric.all"), Operation::Read),
            Acl::allow("streams", topic("metric.cpu"), Operation::Write),
            Acl::allow("streams", topic("metric.memory"), Operation::Write),
            Acl::allow("streams", topic("metric.cpu.alert"), Operation::Write),
            Acl::allow(
                "streams",
                Resource::Group("metric-streams-application".into()),
                Operation::Read,
            ),
        ])
        .unwrap();
    let acls_took = t.elapsed();

    // The agent: a Metricbeat config plus the usual security keys; the password from ${ENV}.
    let dir = tempfile::tempdir().unwrap();
    let ca = cluster.ca_path().unwrap();
    let yaml = agent_yaml(
        dir.path(),
        &b,
        "metric.all",
        &format!(
            "  username: agent\n  password: ${{METRICPIPE_TEST_AGENT_PASSWORD}}\n  sasl.mechanism: SCRAM-SHA-512\n  ssl.certificate_authorities: [\"{}\"]\n",
            ca.display()
        ),
    );
    std::env::set_var("METRICPIPE_TEST_AGENT_PASSWORD", "agent-pw");
    let path_data = dir.path().join("data");
    let mut agent = Proc::spawn(
        "agent",
        &[
            "agent".as_ref(),
            "-e".as_ref(),
            "-c".as_ref(),
            yaml.as_os_str(),
            "--path.data".as_ref(),
            path_data.as_os_str(),
        ],
    );

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
    let bad_yaml = agent_yaml(
        bad_dir.path(),
        &b,
        "metric.all",
        &format!(
            "  username: agent\n  password: not-the-password\n  sasl.mechanism: SCRAM-SHA-512\n  ssl.certificate_authorities: [\"{}\"]\n",
            ca.display()
        ),
    );
    let bad_port = free_port();
    let bad_data = bad_dir.path().join("data");
    let bad_addr = format!("127.0.0.1:{bad_port}");
    let mut bad_agent = Proc::spawn(
        "bad-agent",
        &[
            "agent".as_ref(),
            "-e".as_ref(),
            "-c".as_ref(),
            bad_yaml.as_os_str(),
            "--path.data".as_ref(),
            bad_data.as_os_str(),
            "--metrics-addr".as_ref(),
            bad_addr.as_ref(),
        ],
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

    agent.sigkill();
    streams.sigkill();
    eprintln!(
        "cluster up {up:?}; topics create {topics_took:?}; ACLs {acls_took:?}; first alert {flow_took:?}; refusal named in {refused_took:?}; whole test {:?}",
        started.elapsed()
    );
}
