//! `metricpipe tail` on a real cluster: prints what was produced, pretty-prints, ends quietly
//! when its reader goes away, and joins no consumer group unless asked.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use metricpipe_admin::{create_topics, AdminOptions, TopicSpec};
use rdkafka::consumer::{BaseConsumer, Consumer};

fn metricpipe() -> Command {
    metricpipe_testkit::command(metricpipe_testkit::metricpipe_bin!())
}

fn create_topic(bootstrap: &str, name: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(create_topics(
        &AdminOptions::new(bootstrap),
        &[TopicSpec {
            name: name.into(),
            partitions: 3,
            replication_factor: 2,
        }],
    ))
    .expect("create topic");
}

fn produce(bootstrap: &str, topic: &str, values: &[String]) {
    metricpipe_testkit::produce(bootstrap, topic, values);
}

fn groups(bootstrap: &str) -> Vec<String> {
    let c: BaseConsumer =
        metricpipe_testkit::client_config(bootstrap, metricpipe_testkit::ClientRole::Consumer, &[])
            .create()
            .expect("consumer");
    c.fetch_group_list(None, Duration::from_secs(15))
        .expect("list groups")
        .groups()
        .iter()
        .map(|g| g.name().to_string())
        .collect()
}

#[test]
fn tail_prints_records_pipes_and_leaves_no_group() {
    let cluster = metricpipe_testkit::shared_cluster();
    let b = cluster.bootstrap_servers();
    create_topic(&b, "tail.test");
    let values: Vec<String> = (0..6)
        .map(|i| format!(r#"{{"n":{i},"host":{{"name":"h{i}"}}}}"#))
        .collect();
    produce(&b, "tail.test", &values);

    // --from-beginning --max N: exactly the records, as they are.
    let out = metricpipe()
        .args([
            "tail",
            "tail.test",
            "--from-beginning",
            "--max",
            "6",
            "-b",
            &b,
        ])
        .output()
        .expect("run tail");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    got.sort();
    let mut want = values.clone();
    want.sort();
    assert_eq!(got, want);

    // --pretty
    let out = metricpipe()
        .args([
            "tail",
            "tail.test",
            "--from-beginning",
            "--max",
            "1",
            "--pretty",
            "-b",
            &b,
        ])
        .output()
        .expect("run tail --pretty");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("{\n  \"host\": {\n    \"name\""), "{text}");

    // --print-metadata, and Kafka's own spelling of the flag.
    let out = metricpipe()
        .args([
            "tail",
            "tail.test",
            "--from-beginning",
            "--max",
            "1",
            "--print-metadata",
        ])
        .args(["--bootstrap-server", &b])
        .output()
        .expect("run tail --print-metadata");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("partition="), "{text}");
    assert!(
        text.contains(" offset=") && text.contains(" timestamp=20"),
        "{text}"
    );
    assert!(text.contains("\t{\"n\":"), "{text}");

    // No group was created by the runs above. The cluster is the run's, with other tests'
    // groups on it: the only group tail without --group could make is its own
    // `metricpipe-tail-…` (`unused_group_id`), and no test makes such a group on purpose.
    let before: Vec<String> = groups(&b)
        .into_iter()
        .filter(|g| g.starts_with("metricpipe-tail-"))
        .collect();
    assert!(before.is_empty(), "tail without --group created {before:?}");

    // `tail | head -n 1`: the reader goes away and tail ends quietly, with success.
    let mut child = metricpipe()
        .args(["tail", "tail.test", "--from-beginning", "-b", &b])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tail");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read a line");
    assert!(first.starts_with("{\"n\":"), "{first}");
    // The read end is closed now; the next records make tail hit the closed pipe.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        produce(&b, "tail.test", &["{\"late\":true}".to_string()]);
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "tail did not end after its reader left"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    assert!(status.success(), "exit {status}; stderr: {stderr}");
    assert!(!stderr.contains("error"), "{stderr}");

    // With --group the group exists afterwards: the check above can see groups.
    let out = metricpipe()
        .args([
            "tail",
            "tail.test",
            "--from-beginning",
            "--max",
            "2",
            "--group",
            "tail-ops",
            "-b",
            &b,
        ])
        .output()
        .expect("run tail --group");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    assert!(groups(&b).contains(&"tail-ops".to_string()));
}

#[test]
fn tail_of_a_missing_topic_says_how_to_create_it() {
    let cluster = metricpipe_testkit::shared_cluster();
    let out = metricpipe()
        .args(["tail", "no.such.topic", "--max", "1", "-b"])
        .arg(cluster.bootstrap_servers())
        .output()
        .expect("run tail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(stderr.contains("metricpipe topics create"), "{stderr}");
}
