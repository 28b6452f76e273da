//! The operator surface on a real cluster: `metricpipe top` driven in tmux (keys in, screen
//! out), and `/metrics`, `/healthz`, `/readyz` of a running agent and streams app.

use crate::deploy_check;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    metricpipe_testkit::metricpipe_bin!()
}

/// The four pipeline topics of one test, unique on the run's shared cluster.
struct Pipeline {
    all: String,
    cpu: String,
    memory: String,
    alert: String,
}

impl Pipeline {
    fn create(bootstrap: &str, test: &str) -> Pipeline {
        let id = metricpipe_testkit::unique(test);
        let p = Pipeline {
            all: format!("metric.all.{id}"),
            cpu: format!("metric.cpu.{id}"),
            memory: format!("metric.memory.{id}"),
            alert: format!("metric.cpu.alert.{id}"),
        };
        metricpipe_testkit::create_topics(
            bootstrap,
            &[&p.all, &p.cpu, &p.memory, &p.alert],
            3,
            2,
            &[],
        );
        p
    }

    /// `--all-topic … --alert-topic …` for `metricpipe top`.
    fn top_args(&self) -> String {
        format!(
            "--all-topic {} --cpu-topic {} --memory-topic {} --alert-topic {}",
            self.all, self.cpu, self.memory, self.alert
        )
    }
}

fn produce(bootstrap: &str, records: &[(&str, String)]) {
    use rdkafka::producer::{BaseRecord, Producer};
    let producer = metricpipe_testkit::producer(bootstrap, &[]);
    for (topic, v) in records {
        producer
            .send(BaseRecord::<(), str>::to(topic).payload(v))
            .expect("enqueue");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

fn cpu_event(host: &str, pct: f64) -> String {
    format!(
        r#"{{"@timestamp":"2025-12-28T04:56:17.004Z","host":{{"name":"{host}"}},"metricset":{{"name":"cpu","period":1000}},"system":{{"cpu":{{"cores":2,"total":{{"norm":{{"pct":{pct}}}}}}}}}}}"#
    )
}

fn mem_event(host: &str, pct: f64) -> String {
    format!(
        r#"{{"host":{{"name":"{host}"}},"metricset":{{"name":"memory"}},"system":{{"memory":{{"actual":{{"used":{{"pct":{pct}}}}}}}}}}}"#
    )
}

/// A tmux server of our own (its socket in a temporary directory), killed on drop.
struct Tmux {
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "top"])
    }

    fn wait_screen(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                started.elapsed() < timeout,
                "{what} not on screen within {timeout:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// The row of `host` in the host table (the table's rows start at the left border).
fn row_of(screen: &str, host: &str) -> Option<usize> {
    let start = format!("│{host} ");
    screen.lines().position(|l| l.starts_with(&start))
}

fn row_text<'a>(screen: &'a str, host: &str) -> &'a str {
    row_of(screen, host)
        .and_then(|i| screen.lines().nth(i))
        .unwrap_or("")
}

#[test]
fn top_in_tmux_shows_hosts_alerts_sorts_and_quits_cleanly() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed (apt-get install tmux) - the top terminal test needs it");
        return;
    }
    let cluster = metricpipe_testkit::shared_cluster();
    let b = cluster.bootstrap_servers();
    let t = Pipeline::create(&b, "top");
    // History from before top starts: it must read it back and fill the screen at once.
    let mut records: Vec<(&str, String)> = Vec::new();
    for _ in 0..5 {
        records.push((&t.all, cpu_event("tmux-web-1", 0.93)));
        records.push((&t.all, cpu_event("tmux-db-1", 0.10)));
    }
    records.push((&t.all, mem_event("tmux-web-1", 0.30)));
    records.push((&t.all, mem_event("tmux-db-1", 0.85)));
    records.push((
        &t.alert,
        r#"{"name":"tmux-web-1","cpu":{"usage":0.94},"timestamp":"2025-12-28T04:56:17.004Z"}"#
            .to_string(),
    ));
    produce(&b, &records);

    let dir = tempfile::tempdir().expect("tempdir");
    let tmux = Tmux {
        socket: dir.path().join("tmux.sock"),
        _dir: dir,
    };
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "top",
        "-x",
        "80",
        "-y",
        "24",
        "sh",
    ]);
    let command = format!(
        "METRICPIPE_LOG=warn {} top -b {b} {}; echo TOP-EXIT=$?",
        bin(),
        t.top_args()
    );
    tmux.run(&["send-keys", "-t", "top", &command, "Enter"]);

    // top reads the four topics side by side and redraws each second: a screen can show
    // both hosts before their memory or the alert is read, so wait for all of it.
    let s = tmux.wait_screen(
        "both hosts, memory and the alert",
        Duration::from_secs(60),
        |s| row_text(s, "tmux-db-1").contains("85.0") && s.contains("94.0% tmux-web-1"),
    );
    assert!(s.contains("metricpipe top"), "{s}");
    assert!(row_text(&s, "tmux-web-1").contains("93.0"), "{s}");
    assert!(row_text(&s, "tmux-db-1").contains("85.0"), "{s}");
    assert!(s.contains("94.0% tmux-web-1"), "the alert feed:\n{s}");
    assert!(s.contains("04:56:17"), "the alert feed:\n{s}");
    assert!(s.contains("q quit"), "{s}");
    // Default order: cpu, highest first.
    assert!(row_of(&s, "tmux-web-1").is_some(), "{s}");
    assert!(row_of(&s, "tmux-web-1") < row_of(&s, "tmux-db-1"), "{s}");

    // `m`: by memory, highest first: db-1 (85%) above web-1 (30%).
    tmux.run(&["send-keys", "-t", "top", "m"]);
    let s = tmux.wait_screen("sort by memory", Duration::from_secs(10), |s| {
        s.contains("MEM%▼")
    });
    assert!(row_of(&s, "tmux-db-1") < row_of(&s, "tmux-web-1"), "{s}");

    // Live records appear without a restart.
    produce(&b, &[(&t.all, cpu_event("tmux-live-1", 0.42))]);
    tmux.wait_screen("a live host", Duration::from_secs(20), |s| {
        s.contains("tmux-live-1")
    });

    // A large terminal gets the sparklines.
    tmux.run(&["resize-window", "-t", "top", "-x", "160", "-y", "50"]);
    tmux.wait_screen("the sparklines", Duration::from_secs(10), |s| {
        s.contains("cpu % history")
    });

    // `q` quits, leaves the alternate screen and exits 0.
    tmux.run(&["send-keys", "-t", "top", "q"]);
    // The typed command line holds `TOP-EXIT=$?`; the shell's answer has a digit.
    let s = tmux.wait_screen("top's exit", Duration::from_secs(15), |s| {
        (0..10).any(|d| s.contains(&format!("TOP-EXIT={d}")))
    });
    eprintln!("screen after q:\n{s}");
    assert!(s.contains("TOP-EXIT=0"), "{s}");
    assert!(
        !s.contains("q quit"),
        "the dashboard is still on screen:\n{s}"
    );
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let addr = addr.parse().ok()?;
    metricpipe_telemetry::http_get(addr, path, Duration::from_secs(5)).ok()
}

fn metric_value(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .reduce(|a, b| a + b)
}

#[test]
fn agent_and_streams_serve_metrics_health_and_readiness() {
    let cluster = metricpipe_testkit::shared_cluster();
    let b = cluster.bootstrap_servers();
    let t = Pipeline::create(&b, "operator");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("metricbeat.yml");
    let hosts: Vec<String> = b.split(',').map(|h| format!("\"{h}\"")).collect();
    std::fs::write(
        &config,
        format!(
            "metricbeat.modules:\n- module: system\n  metricsets: [cpu, memory]\n  period: 1s\noutput.kafka:\n  hosts: [{}]\n  topic: {}\n",
            hosts.join(", "),
            t.all
        ),
    )
    .expect("write config");
    let agent_addr = format!("127.0.0.1:{}", metricpipe_testkit::free_port());
    let streams_addr = format!("127.0.0.1:{}", metricpipe_testkit::free_port());
    let _agent = Killed(
        Command::new(bin())
            .args(["agent", "-c"])
            .arg(&config)
            .args(["--path.data"])
            .arg(dir.path())
            .args(["--metrics-addr", &agent_addr])
            .env("METRICPIPE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn agent"),
    );
    let _streams = Killed(
        Command::new(bin())
            .args(["streams", "--bootstrap-servers", &b])
            .args([
                "--application-id",
                &metricpipe_testkit::unique("operator-metrics-test"),
            ])
            .args(["--input-topic", &t.all, "--cpu-topic", &t.cpu])
            .args(["--memory-topic", &t.memory, "--alert-topic", &t.alert])
            .args(["--metrics-addr", &streams_addr])
            .env("METRICPIPE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn streams"),
    );

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let agent = get(&agent_addr, "/metrics")
            .map(|r| r.1)
            .unwrap_or_default();
        let streams = get(&streams_addr, "/metrics")
            .map(|r| r.1)
            .unwrap_or_default();
        let sent = metric_value(&agent, "metricpipe_agent_events_sent_total").unwrap_or(0.0);
        let routed = metric_value(&streams, "metricpipe_streams_records_out_total{").unwrap_or(0.0);
        if sent >= 2.0 && routed >= 2.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no traffic in the metrics within 90 s.\nagent:\n{agent}\nstreams:\n{streams}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let (_, agent) = get(&agent_addr, "/metrics").expect("agent /metrics");
    assert!(
        agent.contains("# TYPE metricpipe_agent_events_sent_total counter"),
        "{agent}"
    );
    assert!(agent.contains("metricpipe_agent_queue_depth"), "{agent}");
    let (_, streams) = get(&streams_addr, "/metrics").expect("streams /metrics");
    assert!(
        streams.contains(&format!(
            "metricpipe_streams_records_in_total{{topic=\"{}\"}}",
            t.all
        )),
        "{streams}"
    );
    // deploy/'s dashboard and rules name only exported metrics. Consumer lag and the group
    // state come from librdkafka's statistics (every 5 s), so wait for them first.
    let started = Instant::now();
    let streams = loop {
        let page = get(&streams_addr, "/metrics")
            .map(|r| r.1)
            .unwrap_or_default();
        if page.contains("metricpipe_streams_group_state{")
            && page.contains("metricpipe_streams_consumer_lag{")
        {
            break page;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no consumer statistics: {page}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    deploy_check::assert_deploy_names_exported(&agent, &streams);
    for addr in [&agent_addr, &streams_addr] {
        assert_eq!(get(addr, "/healthz").map(|r| r.0), Some(200), "{addr}");
        let started = Instant::now();
        while get(addr, "/readyz").map(|r| r.0) != Some(200) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{addr} never ready"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}
