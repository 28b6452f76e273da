//! A SASL_SSL cluster from the harness, checked with librdkafka clients: SCRAM-SHA-512 over
//! TLS works for a user with ACLs on its own topic and group, and each failure is the
//! right one (no ACL, wrong password, a CA that did not sign the brokers).

use std::time::{Duration, Instant};

use metricpipe_local::{tls, Acl, LocalCluster, Operation, Resource, SecurityMode};
use metricpipe_testkit::ClientRole;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message};

fn config(cluster: &LocalCluster, role: ClientRole, props: &[(String, String)]) -> ClientConfig {
    metricpipe_testkit::settings(&cluster.bootstrap_servers(), &[])
        .layer(props.iter().cloned())
        .config(role, &format!("secured-test-{}", role.name()), &[])
}

async fn produce(c: ClientConfig, topic: &str) -> Result<(), KafkaError> {
    let producer: FutureProducer = c
        .clone()
        .set("message.timeout.ms", "10000")
        .create()
        .expect("producer");
    producer
        .send(
            FutureRecord::<(), _>::to(topic).payload("{\"n\":1}"),
            Duration::from_secs(10),
        )
        .await
        .map(|_| ())
        .map_err(|(e, _)| e)
}

/// The errors librdkafka reports on its error callback while a metadata request is tried.
#[derive(Default)]
struct Errors(std::sync::Mutex<Vec<String>>);

impl rdkafka::ClientContext for Errors {
    fn error(&self, error: KafkaError, reason: &str) {
        self.0.lock().unwrap().push(format!("{error}: {reason}"));
    }
}
impl rdkafka::consumer::ConsumerContext for Errors {}

fn connect_errors(c: ClientConfig) -> Vec<String> {
    let consumer: BaseConsumer<Errors> = c
        .clone()
        .set("group.id", "probe")
        .create_with_context(Errors::default())
        .unwrap();
    consumer.subscribe(&["alice.events"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && consumer.context().0.lock().unwrap().is_empty() {
        let _ = consumer.poll(Duration::from_millis(100));
    }
    let errors = consumer.context().0.lock().unwrap().clone();
    errors
}

fn set(props: &mut Vec<(String, String)>, key: &str, value: &str) {
    props.retain(|(k, _)| k != key);
    props.push((key.into(), value.into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_scram_users_acls_and_failures() {
    let started = Instant::now();
    // The run's secured cluster, shared with metricpipe's secured tests: this test's users
    // are `alice` and `bob` (metricpipe_testkit::SECURED_USERS), its topic `alice.events`.
    let cluster = metricpipe_testkit::secured_cluster();
    assert_eq!(cluster.security(), SecurityMode::SaslSsl);
    eprintln!("SASL_SSL cluster up in {:?}", started.elapsed());
    let props_file = cluster.client_properties_path().expect("client properties");
    let text = std::fs::read_to_string(&props_file).unwrap();
    assert!(text.contains("security.protocol=SASL_SSL"), "{text}");
    assert!(text.contains("ssl.truststore.type=PEM"), "{text}");
    assert!(cluster.ca_path().unwrap().exists());

    // The admin (a super user) creates the topic.
    let admin: AdminClient<DefaultClientContext> =
        config(&cluster, ClientRole::Admin, &cluster.client_config())
            .create()
            .unwrap();
    let topic = "alice.events";
    let res = admin
        .create_topics(
            &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(20))),
        )
        .await
        .expect("create topics");
    assert!(res.iter().all(|r| r.is_ok()), "{res:?}");

    // A user with no ACLs at all is refused on the topic, by name.
    let bob = cluster.user_client_config("bob").unwrap();
    let err = produce(config(&cluster, ClientRole::Producer, &bob), topic)
        .await
        .unwrap_err();
    assert_eq!(
        err.rdkafka_error_code(),
        Some(RDKafkaErrorCode::TopicAuthorizationFailed),
        "{err}"
    );

    // Alice, allowed her own topic and group only, produces and consumes.
    let t = Instant::now();
    cluster
        .add_acls(&[
            Acl::allow("alice", Resource::Topic(topic.into()), Operation::Write),
            Acl::allow("alice", Resource::Topic(topic.into()), Operation::Read),
            Acl::allow("alice", Resource::Group("alice-g".into()), Operation::Read),
        ])
        .expect("add ACLs");
    eprintln!("ACLs added in {:?}", t.elapsed());
    let alice = cluster.user_client_config("alice").unwrap();
    produce(config(&cluster, ClientRole::Producer, &alice), topic)
        .await
        .expect("alice may write her topic");
    let consumer: BaseConsumer = config(&cluster, ClientRole::Consumer, &alice)
        .set("group.id", "alice-g")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let payload = loop {
        assert!(Instant::now() < deadline, "alice read nothing in 30 s");
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => break m.payload().map(|p| p.to_vec()),
            Some(Err(e)) => panic!("alice's consumer: {e}"),
            None => {}
        }
    };
    assert_eq!(payload.as_deref(), Some(&b"{\"n\":1}"[..]));

    // A wrong password fails authentication, not authorization.
    let mut wrong = alice.clone();
    set(&mut wrong, "sasl.password", "not-her-password");
    let errors = connect_errors(config(&cluster, ClientRole::Consumer, &wrong));
    assert!(
        errors.iter().any(|e| e.contains("invalid credentials")),
        "{errors:?}"
    );

    // A CA that did not sign the broker's certificate fails the TLS handshake.
    let foreign = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(foreign.path(), tls::foreign_ca_pem().unwrap()).unwrap();
    let mut untrusted = alice.clone();
    set(
        &mut untrusted,
        "ssl.ca.location",
        &foreign.path().display().to_string(),
    );
    let errors = connect_errors(config(&cluster, ClientRole::Consumer, &untrusted));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("certificate verify failed")),
        "{errors:?}"
    );
    eprintln!("whole test: {:?}", started.elapsed());
}
