//! Throughput of the metric topology over in-memory Metricbeat 9.2.3 events (~750 bytes):
//! extraction, routing and alert building, with an `Output` that only counts bytes.
//! Target: at least 1M records/s on one core.
//!
//! Two measurements of the same loops: wall time (`topology/…`), and the benchmark thread's
//! own CPU time (`topology-cpu/…`), which is what "per core" means and which stays honest
//! when other processes share the machine's cores.
//!
//! `cargo bench -p metricpipe-topology --bench topology`

use criterion::measurement::Measurement;
use criterion::{black_box, Criterion, Throughput};
use metricpipe_streams::{Output, Reason, SinkId};
use metricpipe_topology::{metric_topology, pass_through, MetricTopologyConfig};

const STREAM: &str = include_str!("../tests/data/metricbeat-9.2.3-stream.jsonl");

struct Count {
    records: usize,
    bytes: usize,
    rejected: usize,
}

impl Output for Count {
    fn emit(&mut self, _sink: SinkId, _topic: &str, value: &[u8]) {
        self.records += 1;
        self.bytes += value.len();
    }
    fn reject(&mut self, _node: &str, _reason: Reason) {
        self.rejected += 1;
    }
}

/// The seed's four events (2 cpu, 2 memory), plus one cpu event over the threshold, so a
/// fifth of the records make an alert.
fn records() -> Vec<Vec<u8>> {
    let mut records: Vec<Vec<u8>> = STREAM.lines().map(|l| l.as_bytes().to_vec()).collect();
    let hot = STREAM.lines().next().unwrap_or_default().replace(
        r#""total":{"pct":1.2299,"norm":{"pct":0.123}}"#,
        r#""total":{"pct":9.1,"norm":{"pct":0.91}}"#,
    );
    records.push(hot.into_bytes());
    records
}

#[path = "cpu_time.rs"]
#[macro_use]
mod cpu_time;

fn run_group<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let records = records();
    let topology = metric_topology(&MetricTopologyConfig::default());
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("metric", |b| {
        b.iter(|| {
            let mut out = Count {
                records: 0,
                bytes: 0,
                rejected: 0,
            };
            for r in &records {
                topology.process(0, black_box(r), &mut out);
            }
            assert_eq!(out.rejected, 0);
            black_box(out.records + out.bytes)
        })
    });
    let ceiling = pass_through("metric.all", "out");
    group.bench_function("pass-through", |b| {
        b.iter(|| {
            let mut out = Count {
                records: 0,
                bytes: 0,
                rejected: 0,
            };
            for r in &records {
                ceiling.process(0, black_box(r), &mut out);
            }
            black_box(out.records + out.bytes)
        })
    });
    group.finish();
}

wall_and_cpu_main!(run_group, "topology");
