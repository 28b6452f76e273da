//! Operator endpoints for metricpipe processes (the agent and streams).
//!
//! One call, [`serve`], installs the Prometheus recorder for the `metrics` crate macros and
//! serves three routes on `--metrics-addr`:
//!
//! - `GET /metrics`: every metric in the Prometheus text format (version 0.0.4).
//! - `GET /healthz`: `200 ok` while the process runs (the server thread answers, so the
//!   process is not wedged).
//! - `GET /readyz`: `200` while the [`Readiness`] handle is ready, `503` with the reason
//!   otherwise. [`probe_brokers`] keeps a handle up to date by asking the brokers for metadata
//!   on an interval: it turns unready [`ProbeOptions::unready_after`] (30 s) after the last
//!   answer, and ready again on the first answer after recovery. Kafka Streams has no such
//!   state (KAFKA-6520); this is ours.
//!
//! ```no_run
//! use std::time::Duration;
//! let readiness = metricpipe_telemetry::probe_brokers("127.0.0.1:9092", Default::default()).unwrap();
//! let server = metricpipe_telemetry::serve("127.0.0.1:9464", readiness.clone()).unwrap();
//! metrics::counter!("metricpipe_agent_events_sent_total").increment(1);
//! println!("metrics on http://{}/metrics", server.local_addr());
//! ```
//!
//! The server is a small blocking HTTP/1.1 responder on one thread (no async runtime, no
//! HTTP framework): the agent has an RSS budget, and three GET routes need no more.
//!
//! What `/metrics` holds besides the commands' own metrics (named, with HELP, in
//! [`catalog`]): the `process_*` family of the Prometheus client libraries (CPU seconds,
//! resident and virtual memory, open file descriptors, threads, start time; the
//! `metrics-process` crate, refreshed on every scrape) and `metricpipe_build_info`
//! ([`build_info`]). Every `*_seconds` metric is a Prometheus histogram with the buckets
//! [`SECONDS_BUCKETS`], so that instances can be summed. [`init_agent_metrics`] and
//! [`init_streams_metrics`] register a command's series at zero; [`install_recorder`]
//! alone gives a [`PrometheusHandle`] without serving it (tests, `metricpipe top`).

mod probe;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use metrics_exporter_prometheus::PrometheusHandle;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

mod build_info;
pub mod catalog;
mod consumer_stats;

pub use build_info::{build_info, set_build_info, BuildInfo};
pub use catalog::{
    describe_agent_metrics, describe_streams_metrics, init_agent_metrics, init_streams_metrics,
    SECONDS_BUCKETS,
};
pub use consumer_stats::record_consumer_statistics;

/// Errors of the telemetry endpoints. Each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(
        "--metrics-addr {addr}: {detail}. Pass HOST:PORT, e.g. 127.0.0.1:9464 or 0.0.0.0:9464"
    )]
    BadAddr { addr: String, detail: String },
    #[error("cannot listen on {addr}: {source}. Is another process using that port? Pick another with --metrics-addr")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("another metrics recorder is already installed in this process; install the Prometheus recorder before any other")]
    Recorder,
    #[error("the histogram buckets are invalid: {0}")]
    Buckets(String),
    #[error("creating the broker probe client for {bootstrap}: {detail}")]
    Probe { bootstrap: String, detail: String },
    #[error("starting the {what} thread: {source}")]
    Thread {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = TelemetryError> = std::result::Result<T, E>;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static INSTALL: Mutex<()> = Mutex::new(());

/// Install the Prometheus recorder as the global `metrics` recorder (once per process; later
/// calls return the same handle).
pub fn install_recorder() -> Result<PrometheusHandle> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .map_err(|e| TelemetryError::Buckets(e.to_string()))?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| TelemetryError::Recorder)?;
    catalog::describe_common_metrics();
    describe_agent_metrics();
    describe_streams_metrics();
    process_collector().describe();
    build_info::export_build_info();
    let _ = HANDLE.set(handle.clone());
    Ok(handle)
}

/// The `process_*` collector; it reads `/proc/self` when asked, so `/metrics` calls it
/// before each render.
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// Whether this process can do its work, as `/readyz` reports it.
///
/// A handle is ready while its last success ([`Readiness::mark_ok`]) is younger than its
/// staleness limit; before the first success it is not ready. Clones share state, so the
/// Kafka code can hold one and the HTTP server another.
#[derive(Clone)]
pub struct Readiness {
    inner: Arc<ReadinessInner>,
}

struct ReadinessInner {
    stale_after: Duration,
    state: Mutex<ReadinessState>,
}

#[derive(Default)]
struct ReadinessState {
    last_ok: Option<Instant>,
    last_error: Option<String>,
    /// A refusal (credentials, certificate, ACL): unready at once, until the next success.
    blocked: Option<String>,
    forced: Option<bool>,
}

impl Readiness {
    /// A handle that is unready until [`mark_ok`](Self::mark_ok), and turns unready again
    /// `stale_after` past the last `mark_ok`.
    pub fn new(stale_after: Duration) -> Self {
        Readiness {
            inner: Arc::new(ReadinessInner {
                stale_after,
                state: Mutex::new(ReadinessState::default()),
            }),
        }
    }

    /// A handle that is always ready (a process with nothing to wait for).
    pub fn always() -> Self {
        let r = Readiness::new(Duration::MAX);
        r.set_forced(Some(true));
        r
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReadinessState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record a success now (e.g. the brokers answered).
    pub fn mark_ok(&self) {
        let mut s = self.lock();
        s.last_ok = Some(Instant::now());
        s.last_error = None;
        s.blocked = None;
    }

    /// Unready now with `reason` (the brokers refuse us: waiting will not help), until the
    /// next [`mark_ok`](Self::mark_ok).
    pub fn mark_blocked(&self, reason: impl Into<String>) {
        self.lock().blocked = Some(reason.into());
    }

    /// Record why the last attempt failed; the handle stays ready until the last success is stale.
    pub fn mark_error(&self, reason: impl Into<String>) {
        self.lock().last_error = Some(reason.into());
    }

    /// Override the computed state (`None` goes back to computing it), e.g. while shutting down.
    pub fn set_forced(&self, forced: Option<bool>) {
        self.lock().forced = forced;
    }

    /// Ready or not, with a one-line reason for people.
    pub fn status(&self) -> (bool, String) {
        let s = self.lock();
        if let Some(f) = s.forced {
            return (f, if f { "ready" } else { "not ready" }.into());
        }
        if let Some(reason) = &s.blocked {
            return (false, reason.clone());
        }
        let err = s.last_error.as_deref().unwrap_or("no answer yet");
        match s.last_ok {
            None => (false, format!("brokers not reached yet: {err}")),
            Some(t) => {
                let age = t.elapsed();
                if age <= self.inner.stale_after {
                    (
                        true,
                        format!("ready: brokers answered {}s ago", age.as_secs()),
                    )
                } else {
                    (
                        false,
                        format!("no broker answered for {}s: {err}", age.as_secs()),
                    )
                }
            }
        }
    }

    pub fn is_ready(&self) -> bool {
        self.status().0
    }
}

/// How [`probe_brokers`] asks the brokers.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Time between two metadata requests.
    pub interval: Duration,
    /// How long one metadata request may take.
    pub timeout: Duration,
    /// Unready this long after the last answer.
    pub unready_after: Duration,
    /// Extra librdkafka properties (security settings, say).
    pub client_properties: Vec<(String, String)>,
    /// Topics this process needs: one it may not describe (a missing ACL) makes it unready.
    pub topics: Vec<String>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
            unready_after: Duration::from_secs(30),
            client_properties: Vec::new(),
            topics: Vec::new(),
        }
    }
}

/// Start a thread that asks `bootstrap_servers` for cluster metadata every
/// [`ProbeOptions::interval`] and keeps the returned [`Readiness`] up to date. The thread
/// ends when every clone of the handle is dropped.
pub fn probe_brokers(bootstrap_servers: &str, opts: ProbeOptions) -> Result<Readiness> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let mut cfg = rdkafka::ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap_servers)
        // Come back quickly after an outage: the probe is what notices recovery.
        .set("reconnect.backoff.max.ms", "2000")
        .set("log_level", "3");
    for (k, v) in &opts.client_properties {
        cfg.set(k, v);
    }
    let consumer: BaseConsumer<probe::LastError> = cfg
        .create_with_context(probe::LastError::default())
        .map_err(|e| TelemetryError::Probe {
            bootstrap: bootstrap_servers.into(),
            detail: e.to_string(),
        })?;
    let readiness = Readiness::new(opts.unready_after);
    let weak = Arc::downgrade(&readiness.inner);
    std::thread::Builder::new()
        .name("broker-probe".into())
        .spawn(move || loop {
            let started = Instant::now();
            let result = consumer.fetch_metadata(None, opts.timeout);
            let Some(inner) = weak.upgrade() else { return };
            let handle = Readiness { inner };
            match result {
                Ok(md) if !md.brokers().is_empty() => {
                    match probe::refused_topic(&consumer, &opts.topics, opts.timeout) {
                        Some(reason) => handle.mark_blocked(reason),
                        None => handle.mark_ok(),
                    }
                }
                Ok(_) => handle.mark_error("the cluster reported no brokers"),
                Err(e) => {
                    tracing::debug!(error = %e, "broker probe failed");
                    match probe::security_refusal(&consumer) {
                        Some(cause) => handle.mark_blocked(cause),
                        None => handle.mark_error(e.to_string()),
                    }
                }
            }
            drop(handle);
            std::thread::sleep(opts.interval.saturating_sub(started.elapsed()));
        })
        .map_err(|source| TelemetryError::Thread {
            what: "broker probe",
            source,
        })?;
    Ok(readiness)
}

/// The running HTTP server. Dropping it stops the server.
pub struct Server {
    local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A JSON route a command adds (the agent's Metricbeat-style `/` and `/stats`): called per
/// request with whether `?pretty` was asked for; returns the JSON body.
pub type JsonRoute = Arc<dyn Fn(bool) -> String + Send + Sync>;

/// Install the recorder (if not yet), bind `addr` and serve `/metrics`, `/healthz` and
/// `/readyz` on a background thread.
pub fn serve(addr: &str, readiness: Readiness) -> Result<Server> {
    serve_with(addr, readiness, Vec::new())
}

/// [`serve`] plus `extra` JSON routes (exact paths), which win over the built-in ones.
pub fn serve_with(
    addr: &str,
    readiness: Readiness,
    extra: Vec<(&'static str, JsonRoute)>,
) -> Result<Server> {
    let handle = install_recorder()?;
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| TelemetryError::BadAddr {
            addr: addr.into(),
            detail: e.to_string(),
        })?
        .next()
        .ok_or_else(|| TelemetryError::BadAddr {
            addr: addr.into(),
            detail: "it resolves to no address".into(),
        })?;
    let listener = TcpListener::bind(sock).map_err(|source| TelemetryError::Bind {
        addr: addr.into(),
        source,
    })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| TelemetryError::Bind {
            addr: addr.into(),
            source,
        })?;
    // Non-blocking accept lets the one thread also notice shutdown and run the recorder's
    // upkeep (which drains histogram buckets even when nobody scrapes).
    listener
        .set_nonblocking(true)
        .map_err(|source| TelemetryError::Bind {
            addr: addr.into(),
            source,
        })?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || accept_loop(listener, handle, readiness, stop2, extra))
        .map_err(|source| TelemetryError::Thread {
            what: "metrics server",
            source,
        })?;
    tracing::info!(addr = %local_addr, "serving /metrics, /healthz and /readyz");
    Ok(Server {
        local_addr,
        stop,
        thread: Some(thread),
    })
}

fn accept_loop(
    listener: TcpListener,
    handle: PrometheusHandle,
    readiness: Readiness,
    stop: Arc<AtomicBool>,
    extra: Vec<(&'static str, JsonRoute)>,
) {
    let mut last_upkeep = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = answer(stream, &handle, &readiness, &extra) {
                    tracing::debug!(error = %e, "metrics request failed");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if last_upkeep.elapsed() >= Duration::from_secs(5) {
            handle.run_upkeep();
            last_upkeep = Instant::now();
        }
    }
}

/// A response: status line, content type, body.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// Route one request line's method and path. Pure, so the routes are testable without sockets.
pub fn route(
    method: &str,
    path: &str,
    handle: &PrometheusHandle,
    readiness: &Readiness,
) -> Response {
    let path = path.split('?').next().unwrap_or(path);
    let text = "text/plain; charset=utf-8";
    if method != "GET" && method != "HEAD" {
        return Response {
            status: 405,
            content_type: text,
            body: "only GET is supported\n".into(),
        };
    }
    match path {
        "/metrics" => {
            process_collector().collect();
            metrics::gauge!("metricpipe_ready").set(if readiness.is_ready() { 1.0 } else { 0.0 });
            Response {
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                body: handle.render(),
            }
        }
        "/healthz" => Response {
            status: 200,
            content_type: text,
            body: "ok\n".into(),
        },
        "/readyz" => {
            let (ready, reason) = readiness.status();
            Response {
                status: if ready { 200 } else { 503 },
                content_type: text,
                body: format!("{reason}\n"),
            }
        }
        "/" => Response {
            status: 200,
            content_type: text,
            body: "metricpipe: /metrics /healthz /readyz\n".into(),
        },
        _ => Response {
            status: 404,
            content_type: text,
            body: "not found: try /metrics, /healthz or /readyz\n".into(),
        },
    }
}

/// An added JSON route for a GET/HEAD of its exact path (`?pretty` indents).
fn extra_route(method: &str, path: &str, extra: &[(&'static str, JsonRoute)]) -> Option<Response> {
    if method != "GET" && method != "HEAD" {
        return None;
    }
    let (bare, query) = path.split_once('?').unwrap_or((path, ""));
    let (_, f) = extra.iter().find(|(p, _)| *p == bare)?;
    let pretty = query
        .split('&')
        .any(|q| q == "pretty" || q.starts_with("pretty="));
    Some(Response {
        status: 200,
        content_type: "application/json; charset=utf-8",
        body: f(pretty),
    })
}

fn answer(
    stream: TcpStream,
    handle: &PrometheusHandle,
    readiness: &Readiness,
    extra: &[(&'static str, JsonRoute)],
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the headers; the routes need none of them.
    let mut header = String::new();
    for _ in 0..100 {
        header.clear();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("/");
    let resp = match extra_route(method, path, extra) {
        Some(r) => r,
        None => route(method, path, handle, readiness),
    };
    let reason = match resp.status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        resp.status,
        reason,
        resp.content_type,
        resp.body.len()
    )?;
    if method != "HEAD" {
        out.write_all(resp.body.as_bytes())?;
    }
    out.flush()
}

/// A blocking `GET` for tests and `metricpipe demo`: returns the status code and body.
pub fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    use std::io::Read;
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no status line"))?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_starts_unready_then_ready_then_stale() {
        let r = Readiness::new(Duration::from_millis(100));
        assert!(!r.is_ready());
        r.mark_error("connection refused");
        let (ready, reason) = r.status();
        assert!(!ready);
        assert!(reason.contains("connection refused"), "{reason}");
        r.mark_ok();
        assert!(r.is_ready());
        std::thread::sleep(Duration::from_millis(150));
        assert!(!r.is_ready());
        r.mark_ok();
        assert!(r.is_ready());
        r.set_forced(Some(false));
        assert!(!r.is_ready());
        assert!(Readiness::always().is_ready());
    }

    #[test]
    fn server_renders_metrics_and_answers_health() {
        let readiness = Readiness::new(Duration::from_secs(30));
        let server = serve("127.0.0.1:0", readiness.clone()).expect("serve");
        metrics::counter!("metricpipe_streams_records_in_total", "topic" => "metric.all")
            .increment(3);
        metrics::gauge!("metricpipe_agent_queue_depth").set(7.0);
        let addr = server.local_addr();
        let t = Duration::from_secs(5);

        let (code, body) = http_get(addr, "/metrics", t).expect("GET /metrics");
        assert_eq!(code, 200);
        assert!(
            body.contains("metricpipe_streams_records_in_total{topic=\"metric.all\"} 3"),
            "{body}"
        );
        assert!(
            body.contains("# HELP metricpipe_agent_queue_depth"),
            "{body}"
        );
        assert!(body.contains("metricpipe_agent_queue_depth 7"), "{body}");

        assert_eq!(http_get(addr, "/healthz", t).expect("healthz").0, 200);
        let (code, body) = http_get(addr, "/readyz", t).expect("readyz");
        assert_eq!(code, 503, "{body}");
        readiness.mark_ok();
        assert_eq!(http_get(addr, "/readyz", t).expect("readyz").0, 200);
        assert_eq!(http_get(addr, "/nope", t).expect("404").0, 404);
    }

    #[test]
    fn every_family_has_help_seconds_are_histograms_and_process_metrics_show() {
        let handle = install_recorder().expect("recorder");
        init_agent_metrics();
        init_streams_metrics();
        metrics::histogram!("metricpipe_streams_commit_duration_seconds").record(0.003);
        metrics::gauge!("metricpipe_streams_consumer_lag", "topic" => "metric.all", "partition" => "0").set(2.0);
        let body = route("GET", "/metrics", &handle, &Readiness::always()).body;
        assert!(
            body.contains("# TYPE metricpipe_streams_commit_duration_seconds histogram"),
            "{body}"
        );
        assert!(
            body.contains("metricpipe_streams_commit_duration_seconds_bucket{le=\"0.005\"} 1"),
            "{body}"
        );
        assert!(body.contains("process_resident_memory_bytes "), "{body}");
        assert!(body.contains("process_cpu_seconds_total "), "{body}");
        let b = build_info();
        assert!(
            body.contains(&format!(
                "metricpipe_build_info{{version=\"{}\",commit=\"{}\",librdkafka=\"{}\"}} 1",
                b.version, b.commit, b.librdkafka
            )),
            "{body}"
        );
        assert!(
            body.contains("metricpipe_agent_events_dropped_total 0"),
            "{body}"
        );
        assert!(
            body.contains("metricpipe_streams_bad_records_total{reason=\"not-json\"} 0"),
            "{body}"
        );
        let families: std::collections::BTreeSet<&str> = body
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert!(families.len() > 20, "{families:?}");
        for family in families {
            assert!(
                body.contains(&format!("# HELP {family} ")),
                "{family} has no HELP line"
            );
        }
    }

    #[test]
    fn build_info_names_librdkafka() {
        let b = BuildInfo::new("1.2.3", "abc");
        assert!(b.librdkafka.starts_with("2."), "{b:?}");
        assert_eq!(
            b.long_version(),
            format!("1.2.3\ncommit: abc\nlibrdkafka: {}", b.librdkafka)
        );
    }

    #[test]
    fn bad_addresses_name_the_flag() {
        let err = serve("not-an-address", Readiness::always())
            .err()
            .expect("must fail");
        assert!(err.to_string().contains("HOST:PORT"), "{err}");
    }

    #[test]
    fn probe_of_an_unreachable_address_stays_unready() {
        // A port nothing listens on: bind one, read its number, close it.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let r = probe_brokers(
            &format!("127.0.0.1:{port}"),
            ProbeOptions {
                interval: Duration::from_millis(200),
                timeout: Duration::from_millis(500),
                ..Default::default()
            },
        )
        .expect("probe");
        std::thread::sleep(Duration::from_millis(1500));
        let (ready, reason) = r.status();
        assert!(!ready, "{reason}");
    }
}

#[cfg(test)]
mod extra_route_tests {
    use super::*;

    #[test]
    fn added_json_routes_match_exact_paths_and_take_pretty() {
        let route: JsonRoute = Arc::new(|pretty| format!("{{\"pretty\":{pretty}}}"));
        let extra = vec![("/stats", route)];
        let r = extra_route("GET", "/stats?pretty", &extra).unwrap();
        assert_eq!(r.body, "{\"pretty\":true}");
        assert_eq!(r.content_type, "application/json; charset=utf-8");
        assert_eq!(
            extra_route("GET", "/stats", &extra).unwrap().body,
            "{\"pretty\":false}"
        );
        assert!(extra_route("GET", "/stats/x", &extra).is_none());
        assert!(extra_route("POST", "/stats", &extra).is_none());
    }
}
