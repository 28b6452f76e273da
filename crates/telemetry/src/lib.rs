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
//! [`serve_with`] adds JSON routes of a command's own (the agent's Metricbeat-style `/` and
//! `/stats`), answered before the routes above.
//!
//! ```no_run
//! use std::time::Duration;
//! let readiness = metricpipe_telemetry::probe_brokers("127.0.0.1:9092", Default::default()).unwrap();
//! let server = metricpipe_telemetry::serve("127.0.0.1:9464", readiness.clone()).unwrap();
//! metrics::counter!(metricpipe_telemetry::catalog::AGENT_EVENTS_SENT_TOTAL).increment(1);
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
//!
//! **Features:** `endpoints` (on by default) is everything above that needs librdkafka or
//! serves HTTP. Without it the crate is the [`catalog`] alone (metric names, HELP text,
//! [`BadRecordReason`]), for emitters that build without a Kafka client (the topology).

#[cfg(feature = "endpoints")]
mod http;
#[cfg(feature = "endpoints")]
mod probe;
#[cfg(feature = "endpoints")]
mod readiness;

#[cfg(feature = "endpoints")]
use std::sync::{Mutex, OnceLock};

#[cfg(feature = "endpoints")]
pub use metrics_exporter_prometheus::PrometheusHandle;
#[cfg(feature = "endpoints")]
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

#[cfg(feature = "endpoints")]
mod build_info;
pub mod catalog;
#[cfg(feature = "endpoints")]
mod consumer_stats;

#[cfg(feature = "endpoints")]
pub use build_info::{build_info, set_build_info, BuildInfo};
pub use catalog::{
    describe_agent_metrics, describe_streams_metrics, init_agent_metrics, init_streams_metrics,
    BadRecordReason, SECONDS_BUCKETS,
};
#[cfg(feature = "endpoints")]
pub use consumer_stats::record_consumer_statistics;
#[cfg(feature = "endpoints")]
pub use http::{http_get, route, serve, serve_with, JsonRoute, Response, Server};
#[cfg(feature = "endpoints")]
pub use readiness::{probe_brokers, ProbeOptions, Readiness};

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

#[cfg(feature = "endpoints")]
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
#[cfg(feature = "endpoints")]
static INSTALL: Mutex<()> = Mutex::new(());

/// Install the Prometheus recorder as the global `metrics` recorder (once per process; later
/// calls return the same handle).
#[cfg(feature = "endpoints")]
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
#[cfg(feature = "endpoints")]
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

#[cfg(all(test, feature = "endpoints"))]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Duration;

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
        metrics::counter!(catalog::STREAMS_RECORDS_IN_TOTAL, "topic" => "metric.all").increment(3);
        metrics::gauge!(catalog::AGENT_QUEUE_DEPTH).set(7.0);
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
        metrics::histogram!(catalog::STREAMS_COMMIT_DURATION_SECONDS).record(0.003);
        metrics::gauge!(catalog::STREAMS_CONSUMER_LAG, "topic" => "metric.all", "partition" => "0")
            .set(2.0);
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
            body.contains("metricpipe_agent_events_dropped_total{metricset=\"cpu\"} 0"),
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
