//! libbeat's `add_host_metadata` processor (libbeat/processors/add_host_metadata, with
//! elastic-agent-system-metrics' `host.MapHostInfo` and go-sysinfo's Linux provider).
//!
//! Each event gets, by a deep update (so `host.cpu.usage` stays):
//! `host.{name, hostname, architecture, os.{type, platform, name, family, version, kernel,
//! codename, build}, id, containerized}` plus `host.ip`/`host.mac` with `netinfo.enabled`
//! (default true) and `host.geo.*` with `geo`. `host.name` is the hostname in lower case
//! (the processor's `name` setting wins). `os.codename`, `os.build`, `id` are left out when
//! empty. The facts are read once per `cache.ttl` (default 5m; zero or negative reads them
//! for every event). With `replace_fields: false` an event whose `host` holds anything
//! besides `name` is left alone (a cpu event's `host.cpu.usage` counts).
//!
//! hostfs: `/etc/os-release`, `/etc/lsb-release`, `/etc/<distrib>-release` and machine-id
//! are read under the bound root (`-system.hostfs`), as go-sysinfo's `WithHostFS` does.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metricpipe_collect::{Map, Value};

use super::host_info::{containerized, machine_id, read_os};
use super::netinfo::{interfaces, net_info, uname};
use crate::beatconf::tree::Node;
use crate::beatconf::values::{bool_value, duration_value, string_value};
use crate::error::ConfigError;

const GEO_KEYS: [&str; 8] = [
    "name",
    "location",
    "continent_name",
    "country_name",
    "country_iso_code",
    "region_name",
    "region_iso_code",
    "city_name",
];

/// The parsed processor plus its cache, shared by every copy of the processor list.
#[derive(Debug, Clone)]
pub struct HostMetadata {
    netinfo: bool,
    cache_ttl: Duration,
    replace_fields: bool,
    name: Option<String>,
    geo: Option<Map>,
    hostfs: PathBuf,
    cache: Arc<Mutex<Option<(Instant, Map)>>>,
}

fn invalid(key: &str, detail: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        detail: detail.into(),
    }
}

/// `cache.ttl`: a Go duration; a negative one turns the cache off, as in libbeat.
fn ttl(key: &str, node: &Node) -> Result<Duration, ConfigError> {
    match node {
        Node::Str(s) if s.trim().starts_with('-') => Ok(Duration::ZERO),
        Node::Int(i) if *i < 0 => Ok(Duration::ZERO),
        Node::Float(f) if *f < 0.0 => Ok(Duration::ZERO),
        other => duration_value(key, other),
    }
}

fn geo(key: &str, entries: &[(String, &Node)]) -> Result<Option<Map>, ConfigError> {
    let mut geo = Map::new();
    for (k, v) in entries {
        let Some(field) = k.strip_prefix("geo.") else {
            continue;
        };
        let full = format!("{key}.{k}");
        if !GEO_KEYS.contains(&field) {
            return Err(invalid(
                &full,
                format!("unknown geo field; use one of {GEO_KEYS:?}"),
            ));
        }
        let text = string_value(&full, v)?;
        if field == "location" && !valid_location(&text) {
            return Err(invalid(
                &full,
                format!("{text:?} is not a \"lat, lon\" pair such as \"40.7128, -74.0060\""),
            ));
        }
        // libbeat drops blank values.
        if !text.trim().is_empty() {
            geo.insert(field, text);
        }
    }
    Ok((!geo.is_empty()).then_some(geo))
}

/// libbeat's `GeoConfigToMap` check: two decimal numbers separated by a comma.
fn valid_location(text: &str) -> bool {
    let number = |s: &str| {
        let s = s.trim();
        let s = s.strip_prefix('-').unwrap_or(s);
        let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        digits(int) && digits(frac)
    };
    matches!(text.split_once(','), Some((lat, lon)) if number(lat) && number(lon))
}

impl HostMetadata {
    /// Parse the processor's settings (`key` names it in errors): `netinfo.enabled`,
    /// `cache.ttl`, `replace_fields`, `name`, `geo.*`. Unknown keys are ignored, as
    /// go-ucfg does.
    pub fn parse(key: &str, cfg: &Node) -> Result<HostMetadata, ConfigError> {
        let mut flat = Vec::new();
        if let Node::Map(_) = cfg {
            cfg.flatten_ref("", &mut flat);
        }
        let get = |k: &str| flat.iter().find(|(f, _)| f == k).map(|(_, v)| *v);
        let sub = |k: &str| format!("{key}.{k}");
        let flag = |k: &str, default: bool| match get(k) {
            None | Some(Node::Null) => Ok(default),
            Some(n) => bool_value(&sub(k), n),
        };
        Ok(HostMetadata {
            netinfo: flag("netinfo.enabled", true)?,
            replace_fields: flag("replace_fields", true)?,
            cache_ttl: match get("cache.ttl") {
                None | Some(Node::Null) => Duration::from_secs(300),
                Some(n) => ttl(&sub("cache.ttl"), n)?,
            },
            name: get("name")
                .filter(|n| !matches!(n, Node::Null))
                .map(|n| string_value(&sub("name"), n))
                .transpose()?
                .filter(|n| !n.is_empty()),
            geo: geo(key, &flat)?,
            hostfs: PathBuf::from("/"),
            cache: Arc::default(),
        })
    }

    /// Read the facts under `root` from now on (`-system.hostfs`); drops what was cached.
    pub fn bind_hostfs(&mut self, root: &Path) {
        self.hostfs = root.to_path_buf();
        self.cache = Arc::default();
    }

    /// The `host` object this processor writes, read now (no cache).
    pub fn read(&self) -> Map {
        host_fields(
            &self.hostfs,
            &crate::host::hostname(),
            Path::new("/proc/1/cgroup"),
            self.netinfo,
            self.name.as_deref(),
        )
    }

    fn cached(&self) -> Map {
        let mut guard = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, data)) = guard.as_ref() {
            if !self.cache_ttl.is_zero() && at.elapsed() < self.cache_ttl {
                return data.clone();
            }
        }
        let data = self.read();
        *guard = Some((Instant::now(), data.clone()));
        data
    }

    /// Deep-update the event's `host` (and `host.geo`), unless `replace_fields: false` and
    /// the event's `host` already holds more than `name`.
    pub fn apply(&self, event: &mut Map) {
        if !self.replace_fields && has_host_fields(event) {
            return;
        }
        let mut host = self.cached();
        if let Some(geo) = &self.geo {
            host.deep_merge(&Map::new().with("geo", geo.clone()), true);
        }
        event.deep_merge(&Map::new().with("host", host), true);
    }
}

/// libbeat's `skipAddingHostMetadata`: `host` is a map with anything besides `name`.
fn has_host_fields(event: &Map) -> bool {
    match event.get("host") {
        Some(Value::Object(m)) => m.iter().any(|(k, _)| k != "name"),
        _ => false,
    }
}

/// The `host` object `MapHostInfo` builds, from the files under `hostfs`, `hostname`, the
/// cgroup file for `containerized` and, with `netinfo`, this namespace's interfaces.
pub fn host_fields(
    hostfs: &Path,
    hostname: &str,
    proc_one_cgroup: &Path,
    netinfo: bool,
    name: Option<&str>,
) -> Map {
    let (arch, kernel) = uname();
    let os = read_os(hostfs).unwrap_or_default();
    let mut os_map = Map::new()
        .with("platform", os.platform.as_str())
        .with("version", os.version.as_str())
        .with("family", os.family.as_str())
        .with("name", os.name.as_str())
        .with("kernel", kernel);
    for (k, v) in [
        ("codename", &os.codename),
        ("build", &os.build),
        ("type", &os.os_type),
    ] {
        if !v.is_empty() {
            os_map.insert(k, v.as_str());
        }
    }
    let mut host = Map::new()
        .with(
            "name",
            name.map_or_else(|| hostname.to_lowercase(), str::to_string),
        )
        .with("hostname", hostname)
        .with("architecture", arch)
        .with("os", os_map);
    if let Some(id) = machine_id(hostfs).filter(|id| !id.is_empty()) {
        host.insert("id", id);
    }
    host.insert("containerized", Value::Bool(containerized(proc_one_cgroup)));
    if netinfo {
        match interfaces() {
            Ok(ifs) => {
                let (ips, macs) = net_info(&ifs);
                let list = |v: Vec<String>| Value::Array(v.into_iter().map(Value::Str).collect());
                if !ips.is_empty() {
                    host.insert("ip", list(ips));
                }
                if !macs.is_empty() {
                    host.insert("mac", list(macs));
                }
            }
            Err(error) => tracing::info!(%error, "no network information for host.ip/host.mac"),
        }
    }
    host
}

#[cfg(test)]
#[path = "host_metadata_tests.rs"]
mod tests;
