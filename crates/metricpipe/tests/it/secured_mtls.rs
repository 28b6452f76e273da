//! The pipeline over mutual TLS (`local up --security ssl`: the brokers require a client
//! certificate, `CN=<user>` is the principal): the agent with Metricbeat's `ssl.certificate`
//! / `ssl.key`, streams and tail with Java properties files holding a PEM key store, each
//! user with ACLs on its own topics only. `agent test output` says per broker what works,
//! and names a missing client certificate.

use crate::drill_common;
use crate::secured_common;

use std::time::{Duration, Instant};

use drill_common::Proc;
use metricpipe_local::{Acl, ClusterOptions, Operation, Resource, SecurityMode};
use secured_common::{agent_test_output, create_topics, spawn_agent, values, wait_until, Topics};

const GROUP: &str = "metric-streams-application";

#[test]
fn agent_streams_tail_over_mutual_tls() {
    let started = Instant::now();
    let cluster =
        metricpipe_testkit::own_cluster(ClusterOptions::secured(1, SecurityMode::Ssl, Vec::new()));
    let up = started.elapsed();
    let b = cluster.bootstrap_servers();
    create_topics(&cluster, &Topics::prefixed(""));
    let mut acls = Acl::pipeline("agent", "streams", GROUP);
    acls.push(Acl::allow(
        "tail",
        Resource::Topic("metric.cpu.alert".into()),
        Operation::Read,
    ));
    cluster.add_acls(&acls).unwrap();
    let ca = cluster.ca_path().unwrap();
    let cert = cluster.client_cert("agent").unwrap();
    let keys = format!(
        "  ssl.certificate_authorities: [\"{}\"]\n  ssl.certificate: \"{}\"\n  ssl.key: \"{}\"\n",
        ca.display(),
        cert.certificate.display(),
        cert.key.display()
    );

    // `agent test output`: every step OK with the certificate; without it, the broker
    // refuses the handshake and the line says so.
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = agent_test_output(dir.path(), &cluster, "metric.all", &keys);
    eprintln!("agent test output (mutual TLS):\n{text}");
    assert!(ok, "{text}");
    assert!(text.contains("security: SSL, client certificate"), "{text}");
    assert!(text.contains("talk to server... OK"), "{text}");
    assert!(text.contains("topic metric.all... OK"), "{text}");
    let no_cert = tempfile::tempdir().unwrap();
    let ca_only = format!("  ssl.certificate_authorities: [\"{}\"]\n", ca.display());
    let (ok, text) = agent_test_output(no_cert.path(), &cluster, "metric.all", &ca_only);
    eprintln!("agent test output (no client certificate):\n{text}");
    assert!(!ok, "{text}");
    assert!(text.contains("ERROR"), "{text}");
    assert!(text.contains("client certificate"), "{text}");

    let mut agent = spawn_agent("agent", dir.path(), &cluster, "metric.all", &keys, None);
    let streams_props = cluster.user_client_properties("streams").unwrap();
    let mut streams = Proc::spawn(
        "streams",
        &[
            "streams",
            "-b",
            &b,
            "--command-config",
            &streams_props.display().to_string(),
            "--application-id",
            GROUP,
            "--threshold",
            "0",
        ],
    );
    let tail_props = cluster.user_client_properties("tail").unwrap();
    let t = Instant::now();
    let mut tail = Proc::spawn_piped(
        "tail",
        &[
            "tail",
            "metric.cpu.alert",
            "-b",
            &b,
            "--command-config",
            &tail_props.display().to_string(),
            "--from-beginning",
            "--max",
            "1",
        ],
    );
    let status = tail.wait_for(Duration::from_secs(90));
    let alert = tail.stdout();
    let first_alert = t.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "tail: {status:?}\n{}\nagent:\n{}\nstreams:\n{}",
        tail.log(),
        agent.log(),
        streams.log()
    );
    // The event's host object with `timestamp` added (SPEC.md).
    let alert: serde_json::Value = serde_json::from_str(alert.trim()).expect("one JSON alert");
    assert!(
        alert["timestamp"].is_string() && alert["name"] == "drill-agent",
        "{alert}"
    );
    wait_until("memory records routed", Duration::from_secs(30), || {
        !values(&cluster, "metric.memory").is_empty()
    });
    assert!(agent.running(), "agent exited:\n{}", agent.log());
    assert!(streams.running(), "streams exited:\n{}", streams.log());
    agent.sigkill();
    streams.sigkill();
    eprintln!(
        "cluster up {up:?}; first alert read by tail {first_alert:?} after streams started; whole test {:?}",
        started.elapsed()
    );
}
