use super::*;

fn parse(text: &str) -> StreamsProperties {
    StreamsProperties::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn key_err(text: &str) -> KeyError {
    match StreamsProperties::parse(text) {
        Err(ParseError::Key(e)) => e,
        other => panic!("{text}: expected a key error, got {other:?}"),
    }
}

fn client(p: &StreamsProperties, key: &str) -> Option<String> {
    p.client
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

#[test]
fn every_implemented_key_maps() {
    let p = parse(
        "application.id=metric-streams-application\n\
         bootstrap.servers=b1:9092,b2:9092\n\
         processing.guarantee=exactly_once_v2\n\
         commit.interval.ms=250\n\
         num.stream.threads=3\n\
         default.deserialization.exception.handler=org.apache.kafka.streams.errors.LogAndFailExceptionHandler\n\
         processing.exception.handler=org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler\n\
         errors.dead.letter.queue.topic.name=metric.dlq\n\
         default.key.serde=org.apache.kafka.common.serialization.Serdes$StringSerde\n\
         default.value.serde=org.apache.kafka.common.serialization.Serdes$StringSerde\n",
    );
    assert_eq!(
        p.application_id.as_deref(),
        Some("metric-streams-application")
    );
    assert_eq!(p.bootstrap_servers.as_deref(), Some("b1:9092,b2:9092"));
    assert_eq!(
        p.processing_guarantee,
        Some(ProcessingGuarantee::ExactlyOnceV2)
    );
    assert_eq!(p.commit_interval, Some(Duration::from_millis(250)));
    assert_eq!(p.num_stream_threads, Some(3));
    assert_eq!(
        p.deserialization_exception_handler,
        Some(ExceptionHandler::LogAndFail)
    );
    assert_eq!(
        p.processing_exception_handler,
        Some(ExceptionHandler::LogAndContinue)
    );
    assert_eq!(p.dlq_topic.as_deref(), Some("metric.dlq"));
    assert!(p.client.is_empty(), "{:?}", p.client);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn handlers_by_short_name_and_the_4x_key() {
    let p = parse("deserialization.exception.handler=LogAndContinueExceptionHandler\n");
    assert_eq!(
        p.deserialization_exception_handler,
        Some(ExceptionHandler::LogAndContinue)
    );
    let p = parse("processing.exception.handler=LogAndFailProcessingExceptionHandler");
    assert_eq!(
        p.processing_exception_handler,
        Some(ExceptionHandler::LogAndFail)
    );
}

#[test]
fn a_malformed_value_names_the_key_and_what_to_write() {
    for (text, key, hint) in [
        (
            "commit.interval.ms=fast",
            "commit.interval.ms",
            "commit.interval.ms=100",
        ),
        ("commit.interval.ms=0", "commit.interval.ms", "above 0"),
        ("commit.interval.ms=-5", "commit.interval.ms", "above 0"),
        (
            "num.stream.threads=0",
            "num.stream.threads",
            "num.stream.threads=2",
        ),
        (
            "num.stream.threads=two",
            "num.stream.threads",
            "whole number",
        ),
        (
            "processing.guarantee=exactly-once",
            "processing.guarantee",
            "exactly_once_v2",
        ),
        (
            "processing.guarantee=exactly_once",
            "processing.guarantee",
            "removed",
        ),
        ("application.id=", "application.id", "application.id="),
        (
            "bootstrap.servers= ",
            "bootstrap.servers",
            "bootstrap.servers=",
        ),
        (
            "errors.dead.letter.queue.topic.name=",
            "errors.dead.letter.queue.topic.name",
            "metric.dlq",
        ),
        (
            "default.deserialization.exception.handler=com.acme.MyHandler",
            "default.deserialization.exception.handler",
            "LogAndContinueExceptionHandler",
        ),
        (
            "processing.exception.handler=LogAndFailExceptionHandler",
            "processing.exception.handler",
            "LogAndFailProcessingExceptionHandler",
        ),
        ("linger.ms=soon", "linger.ms", "librdkafka refuses"),
        ("producer.acks=some", "producer.acks", "librdkafka refuses"),
        (
            "consumer.sasl.mechanism=GSSAPI",
            "consumer.sasl.mechanism",
            "SCRAM",
        ),
    ] {
        let e = key_err(text);
        assert_eq!(e.key, key, "{text}: {e}");
        assert!(e.to_string().contains(hint), "{text}: {e}");
    }
}

#[test]
fn unimplemented_kafka_streams_keys_warn_once_each_naming_them() {
    let p = parse(
        "state.dir=/var/lib/kafka-streams\nreplication.factor=3\nnum.standby.replicas=1\n\
         default.timestamp.extractor=org.apache.kafka.streams.processor.WallclockTimestampExtractor\n\
         default.value.serde=io.confluent.kafka.streams.serdes.avro.GenericAvroSerde\n",
    );
    assert_eq!(p.warnings.len(), 5, "{:?}", p.warnings);
    for key in [
        "state.dir",
        "replication.factor",
        "num.standby.replicas",
        "default.timestamp.extractor",
        "default.value.serde",
    ] {
        let w: Vec<_> = p
            .warnings
            .iter()
            .filter(|w| w.starts_with(&format!("`{key}`")))
            .collect();
        assert_eq!(w.len(), 1, "{key}: {:?}", p.warnings);
    }
    assert!(p.client.is_empty(), "{:?}", p.client);
}

#[test]
fn client_keys_go_to_every_client_or_their_prefix() {
    let p = parse(
        "security.protocol=SASL_SSL\n\
         sasl.mechanism=SCRAM-SHA-512\n\
         sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"app\" password=\"s3cret\";\n\
         consumer.fetch.max.bytes=1048576\n\
         main.consumer.fetch.max.bytes=2097152\n\
         producer.linger.ms=5\n\
         admin.request.timeout.ms=20000\n",
    );
    assert_eq!(client(&p, "security.protocol").as_deref(), Some("SASL_SSL"));
    assert_eq!(client(&p, "sasl.username").as_deref(), Some("app"));
    assert_eq!(client(&p, "sasl.password").as_deref(), Some("s3cret"));
    assert_eq!(client(&p, "producer.linger.ms").as_deref(), Some("5"));
    assert_eq!(
        client(&p, "admin.request.timeout.ms").as_deref(),
        Some("20000")
    );
    // main.consumer. beats consumer. : it comes later in the layer.
    let settings = metricpipe_kafka::ClientSettings::new("b").layer(p.client.clone());
    let consumer = settings.properties_for(metricpipe_kafka::ClientRole::Consumer);
    let fetch: Vec<_> = consumer
        .iter()
        .filter(|(k, _)| k == "fetch.max.bytes")
        .collect();
    assert_eq!(
        fetch,
        [&("fetch.max.bytes".to_string(), "2097152".to_string())]
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn ignored_prefixes_overridden_keys_and_java_only_keys_warn() {
    let p = parse(
        "restore.consumer.max.poll.records=100\n\
         global.consumer.fetch.max.bytes=1\n\
         topic.min.insync.replicas=2\n\
         consumer.enable.auto.commit=true\n\
         group.id=other\n\
         consumer.max.poll.records=500\n\
         key.serializer=org.apache.kafka.common.serialization.StringSerializer\n\
         consumer.session.timeout.ms=45000\n",
    );
    for key in [
        "restore.consumer.max.poll.records",
        "global.consumer.fetch.max.bytes",
        "topic.min.insync.replicas",
        "consumer.enable.auto.commit",
        "group.id",
        "consumer.max.poll.records",
        "key.serializer",
    ] {
        assert!(
            p.warnings.iter().any(|w| w.contains(&format!("`{key}`"))),
            "{key}: {:?}",
            p.warnings
        );
    }
    assert_eq!(p.warnings.len(), 7, "{:?}", p.warnings);
    assert_eq!(
        p.client,
        vec![(
            "consumer.session.timeout.ms".to_string(),
            "45000".to_string()
        )]
    );
}

#[test]
fn streams_keys_are_told_from_client_keys() {
    for key in [
        "commit.interval.ms",
        "application.id",
        "num.stream.threads",
        "processing.guarantee",
        "state.dir",
        "errors.dead.letter.queue.topic.name",
    ] {
        assert!(is_streams_key(key), "{key}");
    }
    for key in [
        "linger.ms",
        "consumer.fetch.max.bytes",
        "security.protocol",
        "bootstrap.servers",
    ] {
        assert!(!is_streams_key(key), "{key}");
    }
}

#[test]
fn a_later_key_wins_and_syntax_errors_name_the_line() {
    let p = parse("commit.interval.ms=100\ncommit.interval.ms=1000\n");
    assert_eq!(p.commit_interval, Some(Duration::from_secs(1)));
    assert!(matches!(
        StreamsProperties::parse("a=1\nb=\\u12"),
        Err(ParseError::Syntax(java_properties::PropertiesError {
            line: 2
        }))
    ));
}

#[test]
fn the_file_error_names_the_path_and_key() {
    let dir = std::env::temp_dir().join(format!("props-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("streams.properties");
    std::fs::write(&path, "num.stream.threads=lots\n").unwrap();
    let e = StreamsProperties::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("streams.properties") && e.contains("`num.stream.threads`"),
        "{e}"
    );
    assert!(StreamsProperties::load(&dir.join("missing.properties")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
