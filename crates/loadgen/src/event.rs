//! Event generation: pure and deterministic for a given seed.

use std::fmt::Write as _;

use crate::rng::{mix, SplitMix64};
use crate::LoadgenError;

/// The `@metadata.version` and `agent.version` the events claim: a current Metricbeat 8.
pub const BEAT_VERSION: &str = "8.17.0";

/// What the generator makes.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Simulated hosts; each emits one cpu and one memory event per period.
    pub hosts: u32,
    /// Seeds every random choice and prefixes every id (`"<seed>-<n>"`).
    pub seed: u64,
    /// Share of cpu events with `system.cpu.total.norm.pct` above [`GenOptions::threshold`].
    pub hot_share: f64,
    /// The streams app's alert threshold; hot events are well above it, the rest well below.
    pub threshold: f64,
    /// `metricset.period`, and the step of the virtual clock.
    pub period_ms: u64,
    /// Where `@timestamp` comes from.
    pub clock: Clock,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            hosts: 1000,
            seed: 1,
            hot_share: 0.1,
            threshold: 0.5,
            period_ms: 10_000,
            clock: Clock::Wall,
        }
    }
}

/// Where `@timestamp` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// A virtual clock starting at this instant (ms since the epoch) and advancing one period per
    /// round of hosts: a backlog that looks like hours of real collection.
    Virtual { start_ms: i64 },
    /// The wall clock at generation time: what latency measurements need.
    Wall,
}

/// The kind of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Cpu,
    Memory,
}

/// One generated event.
#[derive(Debug, Clone)]
pub struct Event {
    /// Sequence number; the id is `"<seed>-<seq>"`.
    pub seq: u64,
    pub kind: Kind,
    /// True for a cpu event above the threshold: the streams app must turn it into an alert.
    pub hot: bool,
    /// `@timestamp` in ms since the epoch.
    pub timestamp_ms: i64,
    /// The JSON document.
    pub value: String,
}

/// Makes Metricbeat-shaped cpu and memory events: host after host, a cpu then a memory event
/// each, one round per period.
///
/// Every event carries `event.id = "<seed>-<seq>"`, which routing forwards untouched. Alerts
/// keep only `host` and the timestamp, so an alert is identified by `"<host.name>@<timestamp>"`;
/// the generator keeps each host's timestamps strictly increasing so that key is unique too.
#[derive(Debug, Clone)]
pub struct Generator {
    opts: GenOptions,
    rng: SplitMix64,
    seq: u64,
    hosts: Vec<Host>,
    buf: String,
}

#[derive(Debug, Clone)]
struct Host {
    name: String,
    agent_id: String,
    ephemeral_id: String,
    cores: u32,
    memory_total: u64,
    last_ts: i64,
}

fn uuid_like(v: u64, w: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        v >> 32,
        (v >> 16) & 0xffff,
        v & 0xfff,
        0x8000 | (w >> 48 & 0x3fff),
        w & 0xffff_ffff_ffff
    )
}

impl Generator {
    pub fn new(opts: GenOptions) -> Result<Self, LoadgenError> {
        if opts.hosts == 0 {
            return Err(LoadgenError::Options("--hosts must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&opts.hot_share) {
            return Err(LoadgenError::Options(format!(
                "--hot-share must be between 0 and 1, got {}",
                opts.hot_share
            )));
        }
        if !(0.05..=0.95).contains(&opts.threshold) {
            return Err(LoadgenError::Options(format!(
                "--threshold must be between 0.05 and 0.95 so both sides can be generated, got {}",
                opts.threshold
            )));
        }
        if opts.period_ms == 0 {
            return Err(LoadgenError::Options("--period must be above zero".into()));
        }
        let hosts = (0..opts.hosts)
            .map(|i| {
                let h = mix(opts.seed, u64::from(i) + 1);
                Host {
                    name: format!("host-{:05}", i + 1),
                    agent_id: uuid_like(h, mix(h, 1)),
                    ephemeral_id: uuid_like(mix(h, 2), mix(h, 3)),
                    cores: [2, 4, 8, 16][(h % 4) as usize],
                    memory_total: [8u64, 16, 32, 64][((h >> 8) % 4) as usize] << 30,
                    last_ts: i64::MIN,
                }
            })
            .collect();
        Ok(Generator {
            rng: SplitMix64::new(opts.seed),
            opts,
            seq: 0,
            hosts,
            buf: String::with_capacity(1024),
        })
    }

    pub fn options(&self) -> &GenOptions {
        &self.opts
    }

    /// The next event. `now_ms` is used only by [`Clock::Wall`].
    pub fn next_event(&mut self, now_ms: i64) -> Event {
        let seq = self.seq;
        self.seq += 1;
        let hosts = u64::from(self.opts.hosts);
        let host_idx = ((seq / 2) % hosts) as usize;
        let round = seq / (2 * hosts);
        let kind = if seq & 1 == 0 {
            Kind::Cpu
        } else {
            Kind::Memory
        };

        let ts = match self.opts.clock {
            Clock::Virtual { start_ms } => {
                // Spread the hosts over the period, as real agents started at different times.
                let offset = host_idx as u64 * self.opts.period_ms / hosts;
                start_ms + (round * self.opts.period_ms + offset) as i64
            }
            Clock::Wall => {
                let host = &mut self.hosts[host_idx];
                // A host's cpu and memory events share a timestamp; its next cpu event must not.
                let ts = if kind == Kind::Memory {
                    host.last_ts.max(now_ms)
                } else if now_ms > host.last_ts {
                    now_ms
                } else {
                    host.last_ts + 1
                };
                host.last_ts = ts;
                ts
            }
        };

        self.buf.clear();
        let hot = match kind {
            Kind::Cpu => self.write_cpu(seq, host_idx, ts),
            Kind::Memory => {
                self.write_memory(seq, host_idx, ts);
                false
            }
        };
        Event {
            seq,
            kind,
            hot,
            timestamp_ms: ts,
            value: self.buf.clone(),
        }
    }

    fn write_header(&mut self, seq: u64, host_idx: usize, ts: i64, metricset: &str) {
        let host = &self.hosts[host_idx];
        let duration = 40_000 + (self.rng.next_u64() % 900_000);
        let b = &mut self.buf;
        b.push_str("{\"@timestamp\":\"");
        push_timestamp(b, ts);
        let _ = write!(
            b,
            "\",\"@metadata\":{{\"beat\":\"metricbeat\",\"type\":\"_doc\",\"version\":\"{v}\"}},\
             \"agent\":{{\"ephemeral_id\":\"{eph}\",\"id\":\"{id}\",\"name\":\"{name}\",\"type\":\"metricbeat\",\"version\":\"{v}\"}},\
             \"ecs\":{{\"version\":\"8.0.0\"}},\
             \"event\":{{\"dataset\":\"system.{ms}\",\"duration\":{duration},\"id\":\"{seed}-{seq}\",\"module\":\"system\"}},\
             \"metricset\":{{\"name\":\"{ms}\",\"period\":{period}}},\"service\":{{\"type\":\"system\"}},",
            v = BEAT_VERSION,
            eph = host.ephemeral_id,
            id = host.agent_id,
            name = host.name,
            ms = metricset,
            seed = self.opts.seed,
            period = self.opts.period_ms,
        );
    }

    /// Returns whether the event is hot.
    fn write_cpu(&mut self, seq: u64, host_idx: usize, ts: i64) -> bool {
        self.write_header(seq, host_idx, ts, "cpu");
        let hot = self.rng.next_f64() < self.opts.hot_share;
        let t = self.opts.threshold;
        // Keep clear of the threshold so 4-decimal rounding never moves an event across it.
        let total = round4(if hot {
            self.rng.range(t + 0.01, 0.99 + 0.01 * t)
        } else {
            self.rng.range(0.005, t - 0.01)
        });
        let iowait = round4(self.rng.range(0.0, 0.02));
        let system = round4(total * self.rng.range(0.1, 0.35));
        let nice = round4(total * self.rng.range(0.0, 0.02));
        let irq = round4(total * self.rng.range(0.0, 0.01));
        let softirq = round4(total * self.rng.range(0.0, 0.02));
        let steal = round4(total * self.rng.range(0.0, 0.01));
        let user = round4((total - system - nice - irq - softirq - steal).max(0.0));
        let idle = round4((1.0 - total - iowait).max(0.0));
        let host = &self.hosts[host_idx];
        let cores = f64::from(host.cores);
        let b = &mut self.buf;
        let _ = write!(
            b,
            "\"host\":{{\"cpu\":{{\"usage\":{total}}},\"name\":\"{}\"}},\"system\":{{\"cpu\":{{\"cores\":{}",
            host.name, host.cores
        );
        for (state, norm) in [
            ("idle", idle),
            ("iowait", iowait),
            ("irq", irq),
            ("nice", nice),
            ("softirq", softirq),
            ("steal", steal),
            ("system", system),
            ("total", total),
            ("user", user),
        ] {
            let _ = write!(
                b,
                ",\"{state}\":{{\"norm\":{{\"pct\":{norm}}},\"pct\":{}}}",
                round4(norm * cores)
            );
        }
        b.push_str("}}}");
        hot
    }

    fn write_memory(&mut self, seq: u64, host_idx: usize, ts: i64) {
        self.write_header(seq, host_idx, ts, "memory");
        let total = self.hosts[host_idx].memory_total;
        let used_pct = self.rng.range(0.2, 0.95);
        let used = (total as f64 * used_pct) as u64;
        let free = total - used;
        let cached = (used as f64 * self.rng.range(0.1, 0.5)) as u64;
        let actual_free = free + cached;
        let actual_used = total - actual_free;
        let swap_total = total / 4;
        let swap_used = (swap_total as f64 * self.rng.range(0.0, 0.1)) as u64;
        let host = &self.hosts[host_idx];
        let _ = write!(
            self.buf,
            "\"host\":{{\"name\":\"{name}\"}},\"system\":{{\"memory\":{{\
             \"actual\":{{\"free\":{actual_free},\"used\":{{\"bytes\":{actual_used},\"pct\":{apct}}}}},\
             \"cached\":{cached},\"free\":{free},\
             \"swap\":{{\"free\":{sfree},\"total\":{swap_total},\"used\":{{\"bytes\":{swap_used},\"pct\":{spct}}}}},\
             \"total\":{total},\"used\":{{\"bytes\":{used},\"pct\":{upct}}}}}}}}}",
            name = host.name,
            apct = round4(actual_used as f64 / total as f64),
            sfree = swap_total - swap_used,
            spct = round4(swap_used as f64 / swap_total as f64),
            upct = round4(used as f64 / total as f64),
        );
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Appends `ms` (since the epoch) as RFC 3339 UTC with milliseconds, Metricbeat's format.
pub fn push_timestamp(out: &mut String, ms: i64) {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Days to civil date (the proleptic Gregorian algorithm by Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
}

/// Parses Metricbeat's `@timestamp` format back to ms since the epoch (for latency figures).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut millis = 0;
    if b.get(19) == Some(&b'.') {
        let frac: String = s[20..].chars().take_while(|c| c.is_ascii_digit()).collect();
        let digits = frac.len().min(3);
        millis = frac.get(..digits)?.parse::<i64>().ok()? * 10i64.pow(3 - digits as u32);
    }
    // Civil date to days (the inverse of the algorithm above).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000) + millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn opts(seed: u64, share: f64) -> GenOptions {
        GenOptions {
            hosts: 7,
            seed,
            hot_share: share,
            clock: Clock::Virtual {
                start_ms: 1_700_000_000_000,
            },
            ..GenOptions::default()
        }
    }

    fn take(g: &mut Generator, n: usize) -> Vec<Event> {
        (0..n).map(|_| g.next_event(0)).collect()
    }

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        let a = take(&mut Generator::new(opts(42, 0.2)).unwrap(), 500);
        let b = take(&mut Generator::new(opts(42, 0.2)).unwrap(), 500);
        let c = take(&mut Generator::new(opts(43, 0.2)).unwrap(), 500);
        let va: Vec<_> = a.iter().map(|e| &e.value).collect();
        let vb: Vec<_> = b.iter().map(|e| &e.value).collect();
        let vc: Vec<_> = c.iter().map(|e| &e.value).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
    }

    #[test]
    fn events_are_metricbeat_shaped_and_the_hot_flag_matches_the_value() {
        let mut g = Generator::new(opts(9, 0.3)).unwrap();
        for e in take(&mut g, 2000) {
            let v: serde_json::Value = serde_json::from_str(&e.value).unwrap();
            assert_eq!(v["@metadata"]["beat"], "metricbeat");
            assert_eq!(v["event"]["module"], "system");
            assert_eq!(v["metricset"]["period"], 10_000);
            assert_eq!(
                v["event"]["id"].as_str().unwrap(),
                format!("9-{}", e.seq).as_str()
            );
            assert_eq!(
                parse_timestamp(v["@timestamp"].as_str().unwrap()),
                Some(e.timestamp_ms)
            );
            match e.kind {
                Kind::Cpu => {
                    assert_eq!(v["metricset"]["name"], "cpu");
                    let total = v["system"]["cpu"]["total"]["norm"]["pct"].as_f64().unwrap();
                    assert_eq!(v["host"]["cpu"]["usage"].as_f64().unwrap(), total);
                    assert_eq!(e.hot, total > 0.5, "total {total}");
                    let cores = v["system"]["cpu"]["cores"].as_f64().unwrap();
                    let pct = v["system"]["cpu"]["total"]["pct"].as_f64().unwrap();
                    assert!((pct - total * cores).abs() < 0.001);
                    assert!(v["system"]["cpu"]["idle"]["norm"]["pct"].as_f64().unwrap() >= 0.0);
                }
                Kind::Memory => {
                    assert_eq!(v["metricset"]["name"], "memory");
                    let m = &v["system"]["memory"];
                    let total = m["total"].as_u64().unwrap();
                    let used = m["used"]["bytes"].as_u64().unwrap();
                    assert_eq!(used + m["free"].as_u64().unwrap(), total);
                    assert!(!e.hot);
                }
            }
        }
    }

    #[test]
    fn share_above_threshold_is_honoured() {
        for share in [0.0, 0.05, 0.5, 1.0] {
            let mut g = Generator::new(opts(5, share)).unwrap();
            let events = take(&mut g, 40_000);
            let cpu = events.iter().filter(|e| e.kind == Kind::Cpu).count();
            let hot = events.iter().filter(|e| e.hot).count();
            assert_eq!(cpu, 20_000);
            let observed = hot as f64 / cpu as f64;
            // 4 standard deviations of a binomial share over 20,000 draws is under 0.015.
            assert!(
                (observed - share).abs() < 0.015,
                "share {share}: observed {observed}"
            );
        }
    }

    #[test]
    fn ids_and_alert_keys_are_unique_on_the_wall_clock_too() {
        let mut g = Generator::new(GenOptions {
            hosts: 3,
            clock: Clock::Wall,
            ..opts(1, 1.0)
        })
        .unwrap();
        let mut ids = HashSet::new();
        let mut alert_keys = HashSet::new();
        // A frozen clock: every event asks for the same millisecond.
        for e in (0..3000).map(|_| g.next_event(1_700_000_000_000)) {
            let v: serde_json::Value = serde_json::from_str(&e.value).unwrap();
            assert!(ids.insert(v["event"]["id"].as_str().unwrap().to_string()));
            if e.kind == Kind::Cpu {
                let key = format!(
                    "{}@{}",
                    v["host"]["name"].as_str().unwrap(),
                    v["@timestamp"].as_str().unwrap()
                );
                assert!(alert_keys.insert(key));
            }
        }
        assert_eq!(ids.len(), 3000);
        assert_eq!(alert_keys.len(), 1500);
    }

    #[test]
    fn virtual_clock_advances_one_period_per_round() {
        let mut g = Generator::new(opts(3, 0.1)).unwrap();
        let events = take(&mut g, 28);
        assert_eq!(events[0].timestamp_ms, 1_700_000_000_000);
        assert_eq!(events[1].timestamp_ms, events[0].timestamp_ms);
        assert_eq!(events[14].timestamp_ms, 1_700_000_010_000);
    }

    #[test]
    fn events_are_about_the_size_of_metricbeat_documents() {
        let mut g = Generator::new(opts(3, 0.1)).unwrap();
        let events = take(&mut g, 1000);
        let mean = events.iter().map(|e| e.value.len()).sum::<usize>() / events.len();
        assert!((600..=900).contains(&mean), "mean size {mean}");
    }

    #[test]
    fn timestamps_round_trip() {
        let mut s = String::new();
        push_timestamp(&mut s, 1_514_764_800_123);
        assert_eq!(s, "2018-01-01T00:00:00.123Z");
        for ms in [0, 951_782_400_000, 1_766_897_777_004, 4_102_444_799_999] {
            let mut s = String::new();
            push_timestamp(&mut s, ms);
            assert_eq!(parse_timestamp(&s), Some(ms), "{s}");
        }
        assert_eq!(
            parse_timestamp("2025-12-28T04:56:17.004Z"),
            Some(1_766_897_777_004)
        );
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn bad_options_are_refused_with_the_flag_name() {
        let e = Generator::new(GenOptions {
            hosts: 0,
            ..GenOptions::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("--hosts"));
        let e = Generator::new(GenOptions {
            hot_share: 1.5,
            ..GenOptions::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("--hot-share"));
    }
}
