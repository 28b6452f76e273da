//! `metricpipe streams` as real processes on a real 3-node cluster:
//! - two instances share one application id; one is SIGKILLed mid-stream and the other
//!   takes over its partitions with no record lost (and few duplicates);
//! - an instance joins and then leaves with SIGTERM: nothing lost, nothing duplicated.
//!
//! Every input has a unique id; the checks count ids in the output topics.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

struct Run {
    bootstrap: String,
    app: String,
    input: String,
    cpu: String,
    memory: String,
    alert: String,
    logs: tempfile::TempDir,
}

impl Run {
    fn new() -> Self {
        let cluster = metricpipe_testkit::shared_cluster();
        let bootstrap = cluster.bootstrap_servers();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let run = Run {
            bootstrap,
            app: format!("app-{id}"),
            input: format!("metric.all.{id}"),
            cpu: format!("metric.cpu.{id}"),
            memory: format!("metric.memory.{id}"),
            alert: format!("metric.cpu.alert.{id}"),
            logs: tempfile::tempdir().unwrap(),
        };
        let admin: AdminClient<DefaultClientContext> = metricpipe_testkit::client_config(
            &run.bootstrap,
            metricpipe_testkit::ClientRole::Admin,
            &[],
        )
        .create()
        .unwrap();
        let topics: Vec<NewTopic> = [&run.input, &run.cpu, &run.memory, &run.alert]
            .iter()
            .map(|n| NewTopic::new(n, 3, TopicReplication::Fixed(2)))
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for r in rt
            .block_on(admin.create_topics(&topics, &AdminOptions::new()))
            .unwrap()
        {
            r.unwrap();
        }
        run
    }

    fn spawn(&self, name: &str) -> Child {
        let log = std::fs::File::create(self.logs.path().join(format!("{name}.log"))).unwrap();
        Command::new(env!("CARGO_BIN_EXE_metricpipe"))
            .args(["streams", "--bootstrap-servers", &self.bootstrap])
            .args(["--application-id", &self.app])
            .args(["--input-topic", &self.input, "--cpu-topic", &self.cpu])
            .args(["--memory-topic", &self.memory, "--alert-topic", &self.alert])
            // A dead member's partitions move after the session timeout: keep it short here.
            .args(["-X", "consumer.session.timeout.ms=6000"])
            .args(["-X", "consumer.heartbeat.interval.ms=1000"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.logs.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    /// `n` records with ids `first..first+n` at about `rate` per second; even ids are memory,
    /// odd ids cpu under the threshold, so each id routes to exactly one record.
    fn produce(&self, first: usize, n: usize, rate: usize) {
        let producer: BaseProducer = metricpipe_testkit::client_config(
            &self.bootstrap,
            metricpipe_testkit::ClientRole::Producer,
            &[],
        )
        .set("linger.ms", "5")
        .create()
        .unwrap();
        let started = Instant::now();
        for i in first..first + n {
            let value = if i % 2 == 0 {
                format!(
                    r#"{{"@timestamp":"t","metricset":{{"name":"memory"}},"host":{{"name":"id-{i}"}}}}"#
                )
            } else {
                format!(
                    r#"{{"@timestamp":"t","metricset":{{"name":"cpu"}},"host":{{"name":"id-{i}"}},"system":{{"cpu":{{"total":{{"norm":{{"pct":0.1}}}}}}}}}}"#
                )
            };
            let mut record = BaseRecord::<(), str>::to(&self.input).payload(value.as_str());
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        record = back;
                        producer.poll(Duration::from_millis(10));
                    }
                }
            }
            producer.poll(Duration::ZERO);
            let due = started + Duration::from_secs_f64((i - first) as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        producer.flush(Duration::from_secs(60)).unwrap();
    }

    /// How often each id appears in the cpu and memory topics, once all of `0..n` have
    /// appeared (or `timeout` passed).
    fn outputs(&self, n: usize, timeout: Duration) -> HashMap<usize, usize> {
        let consumer: BaseConsumer = metricpipe_testkit::client_config(
            &self.bootstrap,
            metricpipe_testkit::ClientRole::Consumer,
            &[],
        )
        .set("group.id", format!("check-{}", self.app))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
        let mut tpl = TopicPartitionList::new();
        for t in [&self.cpu, &self.memory] {
            for p in 0..3 {
                tpl.add_partition_offset(t, p, Offset::Beginning).unwrap();
            }
        }
        consumer.assign(&tpl).unwrap();
        let mut seen: HashMap<usize, usize> = HashMap::new();
        let deadline = Instant::now() + timeout;
        let mut settle: Option<Instant> = None;
        while Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                let text = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                if let Some(id) = text
                    .split("\"id-")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .and_then(|id| id.parse::<usize>().ok())
                {
                    *seen.entry(id).or_default() += 1;
                }
            }
            match (seen.len() >= n, settle) {
                (true, None) => settle = Some(Instant::now() + Duration::from_secs(3)),
                (true, Some(s)) if Instant::now() >= s => break,
                _ => {}
            }
        }
        seen
    }
}

fn sigterm_and_wait(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("streams did not stop within {timeout:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn missing(seen: &HashMap<usize, usize>, n: usize) -> Vec<usize> {
    (0..n).filter(|i| !seen.contains_key(i)).collect()
}

#[test]
fn a_killed_instance_is_taken_over_with_nothing_lost() {
    // The drills share the machine's two cores with the binary's other drills: one at a time.
    let _turn = metricpipe_testkit::drill_turn();
    let run = Run::new();
    let mut a = run.spawn("a");
    let mut b = run.spawn("b");
    const N: usize = 16_000;
    const RATE: usize = 2_000;
    let producer = {
        let r = Run::new_view(&run);
        std::thread::spawn(move || r.produce(0, N, RATE))
    };
    // Kill a while it owns partitions and is busy with them.
    let both = Instant::now() + Duration::from_secs(60);
    while !(run.log("a").contains("partitions assigned")
        && run.log("b").contains("partitions assigned"))
    {
        assert!(
            Instant::now() < both,
            "no assignment\n{}\n{}",
            run.log("a"),
            run.log("b")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let a_partitions = run
        .log("a")
        .lines()
        .rfind(|l| l.contains("partitions assigned"))
        .unwrap_or_default()
        .to_string();
    assert!(a_partitions.contains("metric.all"), "{a_partitions}");
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    producer.join().unwrap();
    let seen = run.outputs(N, Duration::from_secs(120));
    let status = sigterm_and_wait(&mut b, Duration::from_secs(60));
    let lost = missing(&seen, N);
    assert!(
        lost.is_empty(),
        "{} ids lost, e.g. {:?}\n--- a ---\n{}\n--- b ---\n{}",
        lost.len(),
        &lost[..lost.len().min(10)],
        run.log("a"),
        run.log("b")
    );
    let duplicates: usize = seen.values().map(|c| c - 1).sum();
    eprintln!(
        "kill takeover: {N} records at {RATE}/s, {duplicates} duplicates; a had {a_partitions}"
    );
    let b_assignments = run.log("b").matches("partitions assigned").count();
    assert!(b_assignments >= 2, "b never took over\n{}", run.log("b"));
    // Kafka Streams' 30 s commit interval duplicated ~25 % in the same drill; ours commits
    // every 100 ms, so a crash replays a fraction of a second of input. The bound is drill
    // 2's (under 1,000 at 2,000 records/s): a commit covers only acknowledged outputs, so on
    // a loaded 2-core runner the replay grows with the acknowledgement wait.
    assert!(duplicates < 1_000, "{duplicates} duplicates");
    assert!(status.success(), "b exited with {status}\n{}", run.log("b"));
}

#[test]
fn a_graceful_join_and_leave_loses_and_duplicates_nothing() {
    // The drills share the machine's two cores with the binary's other drills: one at a time.
    let _turn = metricpipe_testkit::drill_turn();
    let run = Run::new();
    let mut a = run.spawn("a");
    const N: usize = 24_000;
    const RATE: usize = 2_000;
    let producer = {
        let r = Run::new_view(&run);
        std::thread::spawn(move || r.produce(0, N, RATE))
    };
    std::thread::sleep(Duration::from_secs(2));
    let mut b = run.spawn("b");
    let joined = Instant::now() + Duration::from_secs(60);
    while !run.log("b").contains("partitions assigned") {
        assert!(
            Instant::now() < joined,
            "b never got partitions\n{}",
            run.log("b")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let b process for a while before it leaves.
    std::thread::sleep(Duration::from_secs(2));
    let status_b = sigterm_and_wait(&mut b, Duration::from_secs(60));
    producer.join().unwrap();
    let seen = run.outputs(N, Duration::from_secs(120));
    let status_a = sigterm_and_wait(&mut a, Duration::from_secs(60));
    let lost = missing(&seen, N);
    assert!(
        lost.is_empty(),
        "{} ids lost\n--- a ---\n{}\n--- b ---\n{}",
        lost.len(),
        run.log("a"),
        run.log("b")
    );
    let duplicates: Vec<(&usize, &usize)> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        duplicates.is_empty(),
        "{} ids duplicated by a graceful rebalance\n--- a ---\n{}\n--- b ---\n{}",
        duplicates.len(),
        run.log("a"),
        run.log("b")
    );
    assert!(
        status_a.success() && status_b.success(),
        "{status_a} {status_b}"
    );
    assert!(
        run.log("b").contains("partitions assigned"),
        "{}",
        run.log("b")
    );
}

impl Run {
    /// A handle on the same topics for another thread (no new topics, no log dir of its own).
    fn new_view(other: &Run) -> Run {
        Run {
            bootstrap: other.bootstrap.clone(),
            app: other.app.clone(),
            input: other.input.clone(),
            cpu: other.cpu.clone(),
            memory: other.memory.clone(),
            alert: other.alert.clone(),
            logs: tempfile::tempdir().unwrap(),
        }
    }
}
