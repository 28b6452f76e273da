//! The hand-written scanner against general JSON parsers, on the fields the topology reads.
//!
//! Each contender takes one Metricbeat 9.2.3 event (~750 bytes) and yields what routing
//! and alerting need: `metricset.name`, `system.cpu.total.norm.pct`, and the `host` and
//! `@timestamp` values. Every contender validates the whole record, as ours does:
//! - `ours`: [`metricpipe_topology::extract::extract`], spans into the record;
//! - `serde_json/typed`: serde_json into borrowed structs (`RawValue` for `host` and
//!   `@timestamp`, unknown fields skipped), the fastest way serde_json offers;
//! - `serde_json/value`: serde_json into a `Value` and lookups, the obvious way;
//! - `simd_json/borrowed`: simd-json's tape into a borrowed value (it parses in place,
//!   so the record is copied first, as a consumer's buffer would have to be);
//! - `sonic_rs/typed`: sonic-rs (SIMD) into the same borrowed structs, `host` and
//!   `@timestamp` as raw values.
//!
//! The Value-based contenders would still have to serialize `host` again to write an
//! alert, and could not keep the record's own spelling of its numbers (gson
//! compatibility); that cost is not counted here.
//!
//! Wall time (`scanner/…`) and the benchmark thread's CPU time (`scanner-cpu/…`).
//!
//! `cargo bench -p metricpipe-topology --bench scanner`

use std::borrow::Cow;

use criterion::measurement::Measurement;
use criterion::{black_box, Criterion, Throughput};
use serde::Deserialize;

#[path = "cpu_time.rs"]
#[macro_use]
mod cpu_time;

const STREAM: &str = include_str!("../tests/data/metricbeat-9.2.3-stream.jsonl");

/// What each contender yields: is it cpu, its pct, and the lengths of `host` and
/// `@timestamp` as the contender sees them (so nothing is optimized away).
type Fields = (bool, Option<f64>, usize, usize);

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    metricset: Option<Metricset<'a>>,
    #[serde(rename = "@timestamp", borrow)]
    timestamp: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    host: Option<&'a serde_json::value::RawValue>,
    system: Option<System>,
}

#[derive(Deserialize)]
struct Metricset<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct System {
    cpu: Option<Cpu>,
}

#[derive(Deserialize)]
struct Cpu {
    total: Option<Total>,
}

#[derive(Deserialize)]
struct Total {
    norm: Option<Pct>,
}

#[derive(Deserialize)]
struct Pct {
    pct: Option<f64>,
}

#[derive(Deserialize)]
struct SonicEvent<'a> {
    #[serde(borrow)]
    metricset: Option<Metricset<'a>>,
    #[serde(rename = "@timestamp", borrow)]
    timestamp: Option<sonic_rs::LazyValue<'a>>,
    #[serde(borrow)]
    host: Option<sonic_rs::LazyValue<'a>>,
    system: Option<System>,
}

fn pct(system: Option<System>) -> Option<f64> {
    system?.cpu?.total?.norm?.pct
}

fn ours(record: &[u8]) -> Fields {
    let f = metricpipe_topology::extract::extract(record).expect("a valid event");
    let pct = match f.cpu_pct {
        metricpipe_topology::CpuPct::Number(n) => Some(n),
        metricpipe_topology::CpuPct::Unalertable(_) => None,
    };
    let len = |r: Option<std::ops::Range<usize>>| r.map_or(0, |r| r.len());
    (
        f.kind == metricpipe_topology::Kind::Cpu,
        pct,
        len(f.host),
        len(f.timestamp),
    )
}

fn serde_typed(record: &[u8]) -> Fields {
    let e: Event<'_> = serde_json::from_slice(record).expect("a valid event");
    let name = e.metricset.and_then(|m| m.name);
    (
        name.as_deref() == Some("cpu"),
        pct(e.system),
        e.host.map_or(0, |h| h.get().len()),
        e.timestamp.map_or(0, |t| t.get().len()),
    )
}

fn serde_value(record: &[u8]) -> Fields {
    let v: serde_json::Value = serde_json::from_slice(record).expect("a valid event");
    let host = v
        .get("host")
        .and_then(|h| h.as_object())
        .map_or(0, |h| h.len());
    let ts = v
        .get("@timestamp")
        .and_then(|t| t.as_str())
        .map_or(0, str::len);
    (
        v.pointer("/metricset/name").and_then(|n| n.as_str()) == Some("cpu"),
        v.pointer("/system/cpu/total/norm/pct")
            .and_then(|p| p.as_f64()),
        host,
        ts,
    )
}

fn simd_borrowed(record: &[u8], buf: &mut Vec<u8>) -> Fields {
    use simd_json::prelude::*;
    buf.clear();
    buf.extend_from_slice(record);
    let v = simd_json::to_borrowed_value(buf).expect("a valid event");
    let get = |path: &[&str]| {
        let mut at = Some(&v);
        for key in path {
            at = at.and_then(|x| x.get(*key));
        }
        at
    };
    (
        get(&["metricset", "name"]).and_then(|n| n.as_str()) == Some("cpu"),
        get(&["system", "cpu", "total", "norm", "pct"]).and_then(|p| p.as_f64()),
        get(&["host"])
            .and_then(|h| h.as_object())
            .map_or(0, |h| h.len()),
        get(&["@timestamp"])
            .and_then(|t| t.as_str())
            .map_or(0, str::len),
    )
}

fn sonic_typed(record: &[u8]) -> Fields {
    let e: SonicEvent<'_> = sonic_rs::from_slice(record).expect("a valid event");
    let name = e.metricset.and_then(|m| m.name);
    (
        name.as_deref() == Some("cpu"),
        pct(e.system),
        e.host.map_or(0, |h| h.as_raw_str().len()),
        e.timestamp.map_or(0, |t| t.as_raw_str().len()),
    )
}

fn scanner<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let records: Vec<&[u8]> = STREAM.lines().map(str::as_bytes).collect();
    let mut buf = Vec::new();
    let one = records[0];
    // The contenders must agree on what they read before their speed means anything.
    let want = ours(one);
    assert_eq!(serde_typed(one), want);
    assert_eq!(sonic_typed(one), want);
    assert_eq!(serde_value(one).1, want.1);
    assert_eq!(simd_borrowed(one, &mut buf).1, want.1);

    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(records.len() as u64));
    let mut each = |id: &str, f: &mut dyn FnMut(&[u8]) -> Fields| {
        g.bench_function(id, |b| {
            b.iter(|| {
                for r in &records {
                    black_box(f(black_box(r)));
                }
            })
        });
    };
    each("ours", &mut ours);
    each("serde_json/typed", &mut serde_typed);
    each("serde_json/value", &mut serde_value);
    each("simd_json/borrowed", &mut |r| simd_borrowed(r, &mut buf));
    each("sonic_rs/typed", &mut sonic_typed);
    g.finish();
}

wall_and_cpu_main!(scanner, "scanner");
