//! The dashboard's reader on a real cluster: it starts at the look-back window by record
//! timestamp (older records are skipped), sees live records, reports missing topics and
//! fails clearly when no pipeline topic exists.

use std::time::{Duration, Instant};

use metricpipe_admin::{create_topics, AdminOptions, TopicSpec};
use metricpipe_top::reader::now_ms;
use metricpipe_top::{Dashboard, Reader, ReaderOptions, SortKey, TopError, TopicRole, Topics};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

fn cpu_event(host: &str) -> String {
    format!(
        r#"{{"host":{{"name":"{host}"}},"metricset":{{"name":"cpu"}},"system":{{"cpu":{{"total":{{"norm":{{"pct":0.25}}}}}}}}}}"#
    )
}

fn topics(prefix: &str) -> Topics {
    Topics {
        all: format!("{prefix}.all"),
        cpu: format!("{prefix}.cpu"),
        memory: format!("{prefix}.memory"),
        alert: format!("{prefix}.alert"),
    }
}

fn create(bootstrap: &str, names: &[&str]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let specs: Vec<TopicSpec> = names
        .iter()
        .map(|n| TopicSpec {
            name: n.to_string(),
            partitions: 3,
            replication_factor: 2,
        })
        .collect();
    rt.block_on(create_topics(&AdminOptions::new(bootstrap), &specs))
        .expect("create topics");
}

fn drain_until(
    reader: &Reader,
    dash: &mut Dashboard,
    timeout: Duration,
    done: impl Fn(&Dashboard) -> bool,
) {
    let started = Instant::now();
    while started.elapsed() < timeout {
        for r in reader.drain(10_000) {
            dash.apply(r.role, &r.payload, r.timestamp_ms);
        }
        if done(dash) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn reads_back_the_lookback_window_by_record_time_and_then_live() {
    let cluster = metricpipe_testkit::shared_cluster();
    let b = cluster.bootstrap_servers();
    let t = topics("rt");
    // No memory topic: the reader goes on without it and says so.
    create(&b, &[&t.all, &t.cpu, &t.alert]);

    let producer: BaseProducer =
        metricpipe_testkit::client_config(&b, metricpipe_testkit::ClientRole::Producer, &[])
            .create()
            .expect("producer");
    let now = now_ms();
    // One partition, timestamps in order: 10 minutes ago, then 1 minute ago.
    for (host, ts) in [("old-host", now - 600_000), ("recent-host", now - 60_000)] {
        producer
            .send(
                BaseRecord::<(), str>::to(&t.all)
                    .partition(0)
                    .timestamp(ts)
                    .payload(&cpu_event(host)),
            )
            .expect("enqueue");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");

    let mut opts = ReaderOptions::new(&b);
    opts.topics = t.clone();
    let reader = Reader::start(opts).expect("reader");
    assert_eq!(reader.missing_topics(), std::slice::from_ref(&t.memory));

    let mut dash = Dashboard::new();
    drain_until(&reader, &mut dash, Duration::from_secs(30), |d| {
        d.host_count() >= 1
    });
    // Give the old record every chance to show up if the look-back were wrong.
    drain_until(&reader, &mut dash, Duration::from_secs(2), |_| false);
    let hosts: Vec<String> = dash
        .hosts_sorted(SortKey::Host, false)
        .iter()
        .map(|h| h.name.clone())
        .collect();
    assert_eq!(hosts, ["recent-host"]);
    assert_eq!(dash.total(TopicRole::All), 1);

    // A live record arrives too.
    producer
        .send(BaseRecord::<(), str>::to(&t.all).payload(&cpu_event("live-host")))
        .expect("enqueue");
    producer.flush(Duration::from_secs(30)).expect("flush");
    drain_until(&reader, &mut dash, Duration::from_secs(30), |d| {
        d.host_count() >= 2
    });
    assert_eq!(dash.host_count(), 2, "the live record did not arrive");
}

#[test]
fn no_pipeline_topic_is_a_clear_error() {
    let cluster = metricpipe_testkit::shared_cluster();
    let mut opts = ReaderOptions::new(cluster.bootstrap_servers());
    opts.topics = topics("nothing-here");
    match Reader::start(opts) {
        Err(e @ TopError::NoTopics { .. }) => {
            assert!(e.to_string().contains("metricpipe topics create"), "{e}")
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a reader without topics must not start"),
    }
}
