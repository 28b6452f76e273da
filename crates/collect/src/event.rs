//! Metricbeat-shaped documents for the `system/cpu` and `system/memory` metricsets.

use std::time::{Duration, SystemTime};

use crate::{format_timestamp, CpuUsage, Map, Memory, Value};

/// Who ships the events: the `agent.*`, `@metadata` and `host.name` builtins.
#[derive(Debug, Clone)]
pub struct BeatInfo {
    /// `@metadata.beat` and `agent.type`: `metricbeat`, so consumers keep working.
    pub beat: String,
    /// `@metadata.version` and `agent.version`.
    pub version: String,
    /// `agent.id`: persistent across restarts.
    pub id: String,
    /// `agent.ephemeral_id`: new per process start.
    pub ephemeral_id: String,
    /// `agent.name` and `host.name`: the `name:` setting or the hostname.
    pub name: String,
    /// `ecs.version`.
    pub ecs_version: String,
}

/// Which cpu values to emit (`cpu.metrics`); Metricbeat's default is percentages and
/// normalized percentages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuMetrics {
    pub percentages: bool,
    pub normalized_percentages: bool,
    pub ticks: bool,
}

impl Default for CpuMetrics {
    fn default() -> Self {
        CpuMetrics {
            percentages: true,
            normalized_percentages: true,
            ticks: false,
        }
    }
}

/// What every event of a metricset shares.
#[derive(Debug, Clone)]
pub struct EventContext<'a> {
    pub beat: &'a BeatInfo,
    /// `metricset.period`, printed in milliseconds.
    pub period: Duration,
    /// The `fields:` setting, under `fields` or at the root with `fields_under_root`.
    pub fields: Option<&'a Map>,
    pub fields_under_root: bool,
    /// The `tags:` setting.
    pub tags: &'a [String],
}

fn pct_object(pct: f64) -> Map {
    Map::new().with("pct", pct)
}

/// The `system.cpu` event. `host.cpu.usage` is always there (it is `total.norm.pct`),
/// whatever `cpu.metrics` selects, as in Metricbeat.
pub fn cpu_event(
    ctx: &EventContext<'_>,
    started: SystemTime,
    took: Duration,
    usage: &CpuUsage,
    metrics: CpuMetrics,
) -> Map {
    let ticks = usage.ticks.states();
    let mut cpu = Map::new().with("cores", u64::from(usage.cores));
    for (name, pct) in usage.states.iter() {
        let mut state = Map::new();
        if metrics.percentages {
            state.insert("pct", pct.pct);
        }
        if metrics.normalized_percentages {
            state.insert("norm", pct_object(pct.norm));
        }
        if metrics.ticks {
            let counter = ticks.iter().find(|(n, _)| n == name).map_or(0, |(_, v)| *v);
            state.insert("ticks", counter);
        }
        if !state.is_empty() {
            cpu.insert(*name, state);
        }
    }
    let mut total = Map::new();
    if metrics.percentages {
        total.insert("pct", usage.total.pct);
    }
    if metrics.normalized_percentages {
        total.insert("norm", pct_object(usage.total.norm));
    }
    if !total.is_empty() {
        cpu.insert("total", total);
    }
    let host = Map::new().with("cpu", Map::new().with("usage", usage.total.norm));
    finish(
        ctx,
        started,
        took,
        "cpu",
        Some(host),
        Map::new().with("cpu", cpu),
    )
}

/// The `system.memory` event.
pub fn memory_event(
    ctx: &EventContext<'_>,
    started: SystemTime,
    took: Duration,
    m: &Memory,
) -> Map {
    let mut mem = Map::new();
    let put = |map: &mut Map, key: &str, v: Option<u64>| {
        if let Some(v) = v {
            map.insert(key, v);
        }
    };
    put(&mut mem, "total", m.total);
    put(&mut mem, "free", m.free);
    put(&mut mem, "cached", m.cached);
    let mut used = Map::new().with("bytes", m.used_bytes);
    if let Some(p) = m.used_pct {
        used.insert("pct", p);
    }
    mem.insert("used", used);
    let mut actual_used = Map::new().with("bytes", m.actual_used_bytes);
    if let Some(p) = m.actual_used_pct {
        actual_used.insert("pct", p);
    }
    mem.insert(
        "actual",
        Map::new()
            .with("free", m.actual_free)
            .with("used", actual_used),
    );
    let mut swap = Map::new();
    put(&mut swap, "total", m.swap_total);
    put(&mut swap, "free", m.swap_free);
    if let Some(bytes) = m.swap_used_bytes {
        let mut swap_used = Map::new().with("bytes", bytes);
        if let Some(p) = m.swap_used_pct {
            swap_used.insert("pct", p);
        }
        swap.insert("used", swap_used);
    }
    if !swap.is_empty() {
        mem.insert("swap", swap);
    }
    finish(
        ctx,
        started,
        took,
        "memory",
        None,
        Map::new().with("memory", mem),
    )
}

/// Wrap metricset fields the way libbeat does: event/metricset/service fields, then the
/// client's `fields`/`tags` (which may overwrite), then builtins (which never overwrite).
fn finish(
    ctx: &EventContext<'_>,
    started: SystemTime,
    took: Duration,
    metricset: &str,
    host: Option<Map>,
    system: Map,
) -> Map {
    let beat = ctx.beat;
    let mut ev = Map::new()
        .with("@timestamp", format_timestamp(started))
        .with(
            "@metadata",
            Map::new()
                .with("beat", beat.beat.as_str())
                .with("type", "_doc")
                .with("version", beat.version.as_str()),
        )
        .with(
            "event",
            Map::new()
                .with("dataset", format!("system.{metricset}"))
                .with("module", "system")
                .with("duration", took.as_nanos().min(u128::from(u64::MAX)) as u64),
        );
    if let Some(host) = host {
        ev.insert("host", host);
    }
    ev.insert(
        "metricset",
        Map::new().with("name", metricset).with(
            "period",
            ctx.period.as_millis().min(u128::from(u64::MAX)) as u64,
        ),
    );
    ev.insert("service", Map::new().with("type", "system"));
    ev.insert("system", system);
    if let Some(fields) = ctx.fields {
        if ctx.fields_under_root {
            ev.deep_merge(fields, true);
        } else if !fields.is_empty() {
            ev.insert("fields", fields.clone());
        }
    }
    if !ctx.tags.is_empty() {
        let mut tags: Vec<Value> = match ev.get("tags") {
            Some(Value::Array(existing)) => existing.clone(),
            Some(other) => vec![other.clone()],
            None => Vec::new(),
        };
        tags.extend(ctx.tags.iter().map(|t| Value::from(t.as_str())));
        ev.insert("tags", Value::Array(tags));
    }
    let builtins = Map::new()
        .with(
            "agent",
            Map::new()
                .with("ephemeral_id", beat.ephemeral_id.as_str())
                .with("id", beat.id.as_str())
                .with("name", beat.name.as_str())
                .with("type", beat.beat.as_str())
                .with("version", beat.version.as_str()),
        )
        .with("ecs", Map::new().with("version", beat.ecs_version.as_str()))
        .with("host", Map::new().with("name", beat.name.as_str()));
    ev.deep_merge(&builtins, false);
    ev
}
