//! The documents of Metricbeat's HTTP monitoring endpoint (libbeat/api: `/` is the `info`
//! registry, `/stats` the `stats` registry), filled from the agent's counters and this
//! process's `/proc/self`, so a scraper written for Metricbeat reads the same paths.
//!
//! `/`: `beat, binary_arch, build_commit, build_time, elastic_licensed, ephemeral_id, gid,
//! hostname, name, uid, username, uuid, version`.
//!
//! `/stats`: `beat.{cpu.{system,user,total}.{ticks,time.ms}, cpu.total.value,
//! handles.{open,limit.{soft,hard}}, info.{ephemeral_id,name,uptime.ms,version},
//! memstats.rss}`, `libbeat.output.{type, events.{acked,active,dropped,failed,total}}`,
//! `libbeat.pipeline.{clients, events.{active,dropped,failed,filtered,published,retry,
//! total}, queue.max_events}`, `metricbeat.system.{cpu,memory}.{events,success,failures}`
//! (a successful fetch gives one event), `system.{cpu.cores, load.{1,5,15,norm.{1,5,15}}}`. Output
//! events follow libbeat's observer: total = acked + failed + dropped + active. Go runtime
//! figures (`memstats.memory_alloc`, `gc_next`, `runtime.goroutines`) have no equivalent
//! and are left out.

use std::sync::{Arc, Weak};
use std::time::Instant;

use serde_json::{json, Value};

use super::process::ProcessFigures;
use crate::run::publish::{AgentStats, Shared, METRICSETS};

/// Everything `/stats` is built from (pure, for tests).
#[derive(Debug, Clone)]
pub struct StatsInput {
    pub ephemeral_id: String,
    pub version: String,
    pub uptime_ms: u64,
    pub stats: AgentStats,
    pub output_type: &'static str,
    pub queue_max_events: usize,
    pub clients: usize,
    pub process: ProcessFigures,
    pub cores: usize,
    /// `/proc/loadavg`'s 1, 5 and 15 minute averages.
    pub load: Option<[f64; 3]>,
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn cpu(ms: u64) -> Value {
    json!({"ticks": ms, "time": {"ms": ms}})
}

/// The `/stats` document.
pub fn stats_document(i: &StatsInput) -> Value {
    let s = &i.stats;
    let sink = s.sink.unwrap_or_default();
    let (acked, active) = match s.sink {
        Some(k) => (k.sent, (k.queued + k.in_flight) as u64),
        // The console output writes each event as it is published.
        None => (s.events - s.processor_dropped - s.topic_errors, 0),
    };
    let total_cpu = i.process.cpu_user_ms + i.process.cpu_system_ms;
    let mut doc = json!({
        "beat": {
            "cpu": {
                "system": cpu(i.process.cpu_system_ms),
                "user": cpu(i.process.cpu_user_ms),
                "total": {"ticks": total_cpu, "time": {"ms": total_cpu}, "value": total_cpu},
            },
            "handles": {
                "open": i.process.open_fds,
                "limit": {"soft": i.process.fd_soft, "hard": i.process.fd_hard},
            },
            "info": {
                "ephemeral_id": i.ephemeral_id,
                "name": "metricbeat",
                "uptime": {"ms": i.uptime_ms},
                "version": i.version,
            },
            "memstats": {"rss": i.process.rss_bytes},
        },
        "libbeat": {
            "output": {
                "type": i.output_type,
                "events": {
                    "acked": acked,
                    "active": active,
                    "dropped": sink.dropped,
                    "failed": sink.failed,
                    "total": acked + active + sink.dropped + sink.failed,
                },
            },
            "pipeline": {
                "clients": i.clients,
                "events": {
                    "active": active,
                    "dropped": sink.dropped,
                    "failed": s.topic_errors,
                    "filtered": s.processor_dropped,
                    "published": s.events - s.processor_dropped - s.topic_errors,
                    "retry": sink.retried,
                    "total": s.events,
                },
                "queue": {"max_events": i.queue_max_events},
            },
        },
        "system": {"cpu": {"cores": i.cores}},
    });
    for (name, (events, failures)) in METRICSETS.iter().zip(s.by_metricset) {
        doc["metricbeat"]["system"][*name] =
            json!({"events": events, "success": events, "failures": failures});
    }
    if let Some([l1, l5, l15]) = i.load {
        let n = i.cores.max(1) as f64;
        doc["system"]["load"] = json!({
            "1": l1, "5": l5, "15": l15,
            "norm": {"1": round4(l1 / n), "5": round4(l5 / n), "15": round4(l15 / n)},
        });
    }
    doc
}

/// The running agent's figures for the endpoint. It holds the agent weakly: once the agent
/// stops, `/stats` reports zeros rather than keeping it alive.
#[derive(Clone)]
pub struct StatsHandle {
    shared: Weak<Shared>,
    started: Instant,
    clients: usize,
}

impl StatsHandle {
    pub(crate) fn new(shared: &Arc<Shared>, clients: usize) -> StatsHandle {
        StatsHandle {
            shared: Arc::downgrade(shared),
            started: Instant::now(),
            clients,
        }
    }

    /// The `/` document; `build_commit` and `build_time` come from the binary.
    pub fn info(&self, build_commit: &str, build_time: &str) -> Value {
        let Some(shared) = self.shared.upgrade() else {
            return json!({});
        };
        let b = &shared.beat;
        let (username, uid, gid) = super::process::user();
        json!({
            "beat": b.beat, "binary_arch": super::process::go_arch(),
            "build_commit": build_commit, "build_time": build_time,
            "elastic_licensed": false, "ephemeral_id": b.ephemeral_id,
            "gid": gid, "hostname": crate::host::hostname(), "name": b.name,
            "uid": uid, "username": username, "uuid": b.id, "version": b.version,
        })
    }

    /// The `/stats` document, read now.
    pub fn stats(&self) -> Value {
        let Some(shared) = self.shared.upgrade() else {
            return json!({});
        };
        let (output_type, queue_max_events) = shared.output_facts();
        stats_document(&StatsInput {
            ephemeral_id: shared.beat.ephemeral_id.clone(),
            version: shared.beat.version.clone(),
            uptime_ms: self.started.elapsed().as_millis() as u64,
            stats: shared.stats(),
            output_type,
            queue_max_events,
            clients: self.clients,
            process: super::process::figures(),
            cores: super::process::cores(),
            load: super::process::loadavg(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metricpipe_ship::SinkStats;

    fn input(sink: Option<SinkStats>) -> StatsInput {
        StatsInput {
            ephemeral_id: "e-1".into(),
            version: "0.1.0".into(),
            uptime_ms: 1500,
            stats: AgentStats {
                events: 100,
                processor_dropped: 5,
                topic_errors: 1,
                by_metricset: [(60, 1), (40, 0)],
                sink,
                ..AgentStats::default()
            },
            output_type: "kafka",
            queue_max_events: 3200,
            clients: 2,
            process: ProcessFigures {
                rss_bytes: 10 << 20,
                cpu_user_ms: 300,
                cpu_system_ms: 200,
                open_fds: 12,
                fd_soft: 1024,
                fd_hard: 4096,
            },
            cores: 2,
            load: Some([1.0, 0.5, 0.25]),
        }
    }

    #[test]
    fn libbeat_paths_and_the_observer_identity() {
        let sink = SinkStats {
            sent: 80,
            dropped: 4,
            failed: 2,
            retried: 7,
            queued: 3,
            in_flight: 5,
        };
        let d = stats_document(&input(Some(sink)));
        let ev = &d["libbeat"]["output"]["events"];
        assert_eq!(ev["acked"], 80);
        assert_eq!(ev["active"], 8);
        assert_eq!(ev["dropped"], 4);
        assert_eq!(ev["failed"], 2);
        assert_eq!(ev["total"], 94);
        assert_eq!(d["libbeat"]["output"]["type"], "kafka");
        let p = &d["libbeat"]["pipeline"]["events"];
        assert_eq!(
            (
                &p["total"],
                &p["filtered"],
                &p["published"],
                &p["failed"],
                &p["retry"]
            ),
            (&json!(100), &json!(5), &json!(94), &json!(1), &json!(7))
        );
        assert_eq!(d["libbeat"]["pipeline"]["queue"]["max_events"], 3200);
        assert_eq!(d["beat"]["memstats"]["rss"], 10 << 20);
        assert_eq!(d["beat"]["cpu"]["total"]["value"], 500);
        assert_eq!(d["beat"]["cpu"]["user"]["time"]["ms"], 300);
        assert_eq!(d["beat"]["handles"]["limit"]["hard"], 4096);
        assert_eq!(d["beat"]["info"]["uptime"]["ms"], 1500);
        assert_eq!(d["beat"]["info"]["name"], "metricbeat");
        assert_eq!(d["system"]["load"]["norm"]["1"], 0.5);
        assert_eq!(d["system"]["load"]["15"], 0.25);
        assert_eq!(
            d["metricbeat"]["system"]["cpu"],
            json!({"events": 60, "success": 60, "failures": 1})
        );
        assert_eq!(d["metricbeat"]["system"]["memory"]["events"], 40);
    }

    #[test]
    fn the_console_output_acks_what_it_prints() {
        let d = stats_document(&input(None));
        assert_eq!(d["libbeat"]["output"]["events"]["acked"], 94);
        assert_eq!(d["libbeat"]["output"]["events"]["total"], 94);
    }
}
