//! The dashboard's state, fed one record at a time. Pure: no Kafka, no terminal, no clock
//! (every call that needs "now" takes it), so it is tested with plain values.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::Value;

/// Which pipeline topic a record came from; decides how it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TopicRole {
    /// The agent's output: every cpu and memory event (hosts and their figures come from here).
    All,
    /// The streams app's cpu branch.
    Cpu,
    /// The streams app's memory branch.
    Memory,
    /// The streams app's alerts.
    Alert,
}

impl TopicRole {
    pub const ALL: [TopicRole; 4] = [
        TopicRole::All,
        TopicRole::Cpu,
        TopicRole::Memory,
        TopicRole::Alert,
    ];

    pub fn label(self) -> &'static str {
        match self {
            TopicRole::All => "all",
            TopicRole::Cpu => "cpu",
            TopicRole::Memory => "memory",
            TopicRole::Alert => "alerts",
        }
    }
}

/// How the host table is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Host,
    Cpu,
    Memory,
    LastSeen,
}

impl SortKey {
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Host => "host",
            SortKey::Cpu => "cpu",
            SortKey::Memory => "mem",
            SortKey::LastSeen => "seen",
        }
    }
}

/// One host's latest figures.
#[derive(Debug, Clone, PartialEq)]
pub struct HostRow {
    pub name: String,
    /// `system.cpu.total.norm.pct` × 100 of the latest cpu event.
    pub cpu_pct: Option<f64>,
    /// `system.memory.actual.used.pct` × 100 (or `used.pct`) of the latest memory event.
    pub mem_pct: Option<f64>,
    /// Record timestamp (ms since the epoch) of the latest event of this host.
    pub last_seen_ms: i64,
    /// Recent CPU % samples, oldest first, at most [`Dashboard::SPARK_LEN`].
    pub cpu_history: VecDeque<f64>,
}

/// One alert from `metric.cpu.alert`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub host: String,
    /// `cpu.usage` × 100.
    pub cpu_pct: Option<f64>,
    /// The alert's `timestamp` field as written by the streams app.
    pub timestamp: String,
    pub record_ms: i64,
}

/// Everything the screen shows.
#[derive(Debug, Default)]
pub struct Dashboard {
    hosts: BTreeMap<String, HostRow>,
    alerts: VecDeque<Alert>,
    /// Record timestamps within the rate window, per topic.
    arrivals: HashMap<TopicRole, VecDeque<i64>>,
    totals: HashMap<TopicRole, u64>,
    unreadable: u64,
}

impl Dashboard {
    /// Samples kept per host for its sparkline.
    pub const SPARK_LEN: usize = 120;
    /// Alerts kept for the feed.
    pub const ALERTS_KEPT: usize = 200;
    /// Rates are records per second over this window, by record timestamp.
    pub const RATE_WINDOW_MS: i64 = 10_000;

    pub fn new() -> Self {
        Self::default()
    }

    /// Take one record. `record_ms` is the Kafka record timestamp. Records that are not the
    /// expected JSON are counted (see [`unreadable`](Self::unreadable)) and otherwise skipped.
    pub fn apply(&mut self, role: TopicRole, payload: &[u8], record_ms: i64) {
        let q = self.arrivals.entry(role).or_default();
        // Records of one topic come from several partitions, so timestamps are only roughly
        // ordered; insert in order to keep the window trim simple.
        let pos = q.iter().rposition(|&t| t <= record_ms).map_or(0, |p| p + 1);
        q.insert(pos, record_ms);
        *self.totals.entry(role).or_default() += 1;
        match role {
            TopicRole::All => self.apply_event(payload, record_ms),
            TopicRole::Alert => self.apply_alert(payload, record_ms),
            TopicRole::Cpu | TopicRole::Memory => {}
        }
    }

    fn apply_event(&mut self, payload: &[u8], record_ms: i64) {
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            self.unreadable += 1;
            return;
        };
        let Some(host) = v.pointer("/host/name").and_then(Value::as_str) else {
            self.unreadable += 1;
            return;
        };
        let metricset = v.pointer("/metricset/name").and_then(Value::as_str);
        let row = self
            .hosts
            .entry(host.to_string())
            .or_insert_with(|| HostRow {
                name: host.to_string(),
                cpu_pct: None,
                mem_pct: None,
                last_seen_ms: record_ms,
                cpu_history: VecDeque::new(),
            });
        // A late record (backfill from several partitions) must not roll the figures back.
        let newest = record_ms >= row.last_seen_ms;
        row.last_seen_ms = row.last_seen_ms.max(record_ms);
        match metricset {
            Some("cpu") => {
                if let Some(p) = v
                    .pointer("/system/cpu/total/norm/pct")
                    .and_then(Value::as_f64)
                {
                    let pct = p * 100.0;
                    if newest {
                        row.cpu_pct = Some(pct);
                    }
                    row.cpu_history.push_back(pct);
                    while row.cpu_history.len() > Self::SPARK_LEN {
                        row.cpu_history.pop_front();
                    }
                }
            }
            Some("memory") => {
                let pct = v
                    .pointer("/system/memory/actual/used/pct")
                    .or_else(|| v.pointer("/system/memory/used/pct"))
                    .and_then(Value::as_f64);
                if let (Some(p), true) = (pct, newest) {
                    row.mem_pct = Some(p * 100.0);
                }
            }
            _ => {}
        }
    }

    fn apply_alert(&mut self, payload: &[u8], record_ms: i64) {
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            self.unreadable += 1;
            return;
        };
        let Some(host) = v.get("name").and_then(Value::as_str) else {
            self.unreadable += 1;
            return;
        };
        let alert = Alert {
            host: host.to_string(),
            cpu_pct: v
                .pointer("/cpu/usage")
                .and_then(Value::as_f64)
                .map(|u| u * 100.0),
            timestamp: v
                .get("timestamp")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            record_ms,
        };
        let pos = self
            .alerts
            .iter()
            .rposition(|a| a.record_ms <= record_ms)
            .map_or(0, |p| p + 1);
        self.alerts.insert(pos, alert);
        while self.alerts.len() > Self::ALERTS_KEPT {
            self.alerts.pop_front();
        }
    }

    /// Forget arrivals older than the rate window (call once per screen refresh).
    pub fn trim(&mut self, now_ms: i64) {
        for q in self.arrivals.values_mut() {
            while q
                .front()
                .is_some_and(|&t| t < now_ms - Self::RATE_WINDOW_MS)
            {
                q.pop_front();
            }
        }
    }

    /// Records per second of a topic over the last [`RATE_WINDOW_MS`](Self::RATE_WINDOW_MS).
    pub fn rate(&self, role: TopicRole, now_ms: i64) -> f64 {
        let n = self.arrivals.get(&role).map_or(0, |q| {
            q.iter()
                .filter(|&&t| t >= now_ms - Self::RATE_WINDOW_MS && t <= now_ms)
                .count()
        });
        n as f64 * 1000.0 / Self::RATE_WINDOW_MS as f64
    }

    /// Records seen on a topic since start (including the read-back).
    pub fn total(&self, role: TopicRole) -> u64 {
        self.totals.get(&role).copied().unwrap_or(0)
    }

    /// Records that could not be read as the expected JSON.
    pub fn unreadable(&self) -> u64 {
        self.unreadable
    }

    /// Hosts in the asked order; `descending` flips it. Ties go by host name.
    pub fn hosts_sorted(&self, key: SortKey, descending: bool) -> Vec<&HostRow> {
        let mut rows: Vec<&HostRow> = self.hosts.values().collect();
        let num = |x: Option<f64>| x.unwrap_or(f64::NEG_INFINITY);
        rows.sort_by(|a, b| {
            let ord = match key {
                SortKey::Host => a.name.cmp(&b.name),
                SortKey::Cpu => num(a.cpu_pct).total_cmp(&num(b.cpu_pct)),
                SortKey::Memory => num(a.mem_pct).total_cmp(&num(b.mem_pct)),
                SortKey::LastSeen => a.last_seen_ms.cmp(&b.last_seen_ms),
            };
            let ord = if descending { ord.reverse() } else { ord };
            ord.then_with(|| a.name.cmp(&b.name))
        });
        rows
    }

    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// Alerts, newest first.
    pub fn recent_alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().rev()
    }

    /// The rates as one line a log or a test can follow (`demo --no-top`):
    /// `hosts=N all=R/s cpu=R/s memory=R/s alerts=R/s total_all=N total_alerts=N`, rates
    /// in records/s with one decimal.
    pub fn rates_line(&self, now_ms: i64) -> String {
        let mut line = format!("hosts={}", self.host_count());
        for role in TopicRole::ALL {
            line.push_str(&format!(
                " {}={:.1}/s",
                role.label(),
                self.rate(role, now_ms)
            ));
        }
        line.push_str(&format!(
            " total_all={} total_alerts={}",
            self.total(TopicRole::All),
            self.total(TopicRole::Alert)
        ));
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(host: &str, pct: f64) -> Vec<u8> {
        format!(
            r#"{{"@timestamp":"2025-12-28T04:56:17.004Z","host":{{"name":"{host}"}},"metricset":{{"name":"cpu","period":10000}},"system":{{"cpu":{{"cores":4,"total":{{"pct":{},"norm":{{"pct":{pct}}}}}}}}}}}"#,
            pct * 4.0
        )
        .into_bytes()
    }

    fn mem(host: &str, pct: f64) -> Vec<u8> {
        format!(
            r#"{{"host":{{"name":"{host}"}},"metricset":{{"name":"memory"}},"system":{{"memory":{{"used":{{"pct":0.99}},"actual":{{"used":{{"pct":{pct}}}}}}}}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn hosts_get_latest_cpu_and_memory() {
        let mut d = Dashboard::new();
        d.apply(TopicRole::All, &cpu("web-1", 0.25), 1_000);
        d.apply(TopicRole::All, &cpu("web-1", 0.75), 2_000);
        d.apply(TopicRole::All, &mem("web-1", 0.5), 2_000);
        d.apply(TopicRole::All, &cpu("db-1", 0.1), 2_500);
        let rows = d.hosts_sorted(SortKey::Host, false);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].name, "web-1");
        assert_eq!(rows[1].cpu_pct, Some(75.0));
        assert_eq!(rows[1].mem_pct, Some(50.0));
        assert_eq!(rows[1].cpu_history, VecDeque::from([25.0, 75.0]));
        assert_eq!(rows[0].mem_pct, None);
    }

    #[test]
    fn a_late_record_does_not_roll_figures_back() {
        let mut d = Dashboard::new();
        d.apply(TopicRole::All, &cpu("web-1", 0.9), 5_000);
        d.apply(TopicRole::All, &cpu("web-1", 0.1), 4_000);
        let rows = d.hosts_sorted(SortKey::Host, false);
        assert_eq!(rows[0].cpu_pct, Some(90.0));
        assert_eq!(rows[0].last_seen_ms, 5_000);
    }

    #[test]
    fn sorting_by_each_key_and_direction() {
        let mut d = Dashboard::new();
        d.apply(TopicRole::All, &cpu("a", 0.5), 3_000);
        d.apply(TopicRole::All, &cpu("b", 0.9), 1_000);
        d.apply(TopicRole::All, &cpu("c", 0.1), 2_000);
        d.apply(TopicRole::All, &mem("c", 0.8), 2_000);
        let names = |key, desc| -> Vec<String> {
            d.hosts_sorted(key, desc)
                .iter()
                .map(|r| r.name.clone())
                .collect()
        };
        assert_eq!(names(SortKey::Cpu, true), ["b", "a", "c"]);
        assert_eq!(names(SortKey::Cpu, false), ["c", "a", "b"]);
        assert_eq!(names(SortKey::Memory, true), ["c", "a", "b"]);
        assert_eq!(names(SortKey::LastSeen, true), ["a", "c", "b"]);
        assert_eq!(names(SortKey::Host, true), ["c", "b", "a"]);
    }

    #[test]
    fn sparkline_keeps_the_most_recent_samples() {
        let mut d = Dashboard::new();
        for i in 0..(Dashboard::SPARK_LEN + 10) {
            d.apply(TopicRole::All, &cpu("h", i as f64 / 1000.0), i as i64);
        }
        let row = &d.hosts_sorted(SortKey::Host, false)[0];
        assert_eq!(row.cpu_history.len(), Dashboard::SPARK_LEN);
        assert!((row.cpu_history[0] - 1.0).abs() < 1e-9);
    }

    #[test]
    fn alerts_are_newest_first_and_bounded() {
        let mut d = Dashboard::new();
        d.apply(
            TopicRole::Alert,
            br#"{"name":"web-1","cpu":{"usage":0.91},"timestamp":"2025-12-28T04:56:17.004Z"}"#,
            2_000,
        );
        d.apply(
            TopicRole::Alert,
            br#"{"name":"web-2","cpu":{"usage":0.6},"timestamp":"2025-12-28T04:56:16.000Z"}"#,
            1_000,
        );
        let a: Vec<&Alert> = d.recent_alerts().collect();
        assert_eq!(a[0].host, "web-1");
        assert_eq!(a[0].cpu_pct.map(|p| p.round()), Some(91.0));
        assert_eq!(a[1].host, "web-2");
        for i in 0..(Dashboard::ALERTS_KEPT + 5) {
            d.apply(
                TopicRole::Alert,
                br#"{"name":"x","cpu":{"usage":0.7},"timestamp":""}"#,
                10_000 + i as i64,
            );
        }
        assert_eq!(d.recent_alerts().count(), Dashboard::ALERTS_KEPT);
    }

    #[test]
    fn rates_count_records_in_the_window_by_record_time() {
        let mut d = Dashboard::new();
        for i in 0..50 {
            // 50 records over the last 5 s, and 30 from long ago.
            d.apply(TopicRole::Cpu, b"{}", 100_000 - i * 100);
        }
        for i in 0..30 {
            d.apply(TopicRole::Cpu, b"{}", 1_000 + i);
        }
        assert_eq!(d.rate(TopicRole::Cpu, 100_000), 5.0);
        assert_eq!(d.rate(TopicRole::Memory, 100_000), 0.0);
        d.trim(100_000);
        assert_eq!(d.rate(TopicRole::Cpu, 100_000), 5.0);
        assert_eq!(d.total(TopicRole::Cpu), 80);
    }

    #[test]
    fn unreadable_records_are_counted_not_fatal() {
        let mut d = Dashboard::new();
        d.apply(TopicRole::All, b"not json", 1);
        d.apply(TopicRole::All, br#"{"metricset":{"name":"cpu"}}"#, 1);
        d.apply(TopicRole::Alert, b"[]", 1);
        assert_eq!(d.unreadable(), 3);
        assert_eq!(d.host_count(), 0);
    }

    #[test]
    fn the_rates_line_names_every_topic_and_the_totals() {
        let d = Dashboard::new();
        assert_eq!(
            d.rates_line(0),
            "hosts=0 all=0.0/s cpu=0.0/s memory=0.0/s alerts=0.0/s total_all=0 total_alerts=0"
        );
    }
}
