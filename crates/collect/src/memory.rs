//! `/proc/meminfo` parsing and Metricbeat's memory formulas
//! (elastic-agent-system-metrics `metric/memory`, see METRICBEAT.md §3 and §5).

use std::collections::HashMap;

use crate::round4;

/// `/proc/meminfo` as bytes by key (values with a `kB` unit are multiplied by 1024).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meminfo(pub HashMap<String, u64>);

impl Meminfo {
    pub fn get(&self, key: &str) -> Option<u64> {
        self.0.get(key).copied()
    }
}

/// Parse `/proc/meminfo` as Metricbeat does: a line must hold exactly one `:`, its first
/// token must be an integer (the line is skipped otherwise), and only a `kB` unit scales it.
pub fn parse_meminfo(text: &str) -> Meminfo {
    let mut table = HashMap::new();
    for line in text.lines() {
        let mut parts = line.split(':');
        let (Some(key), Some(rest), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let mut tokens = rest.split_whitespace();
        let Some(Ok(value)) = tokens.next().map(str::parse::<u64>) else {
            continue;
        };
        let value = if tokens.next() == Some("kB") {
            value.saturating_mul(1024)
        } else {
            value
        };
        table.insert(key.trim().to_string(), value);
    }
    Meminfo(table)
}

/// The memory metricset's values. `None` means absent from the event (Metricbeat's `opt`
/// values are omitted only when absent; a present 0 is emitted).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Memory {
    pub total: Option<u64>,
    pub free: Option<u64>,
    pub cached: Option<u64>,
    pub used_bytes: u64,
    pub used_pct: Option<f64>,
    pub actual_free: u64,
    pub actual_used_bytes: u64,
    pub actual_used_pct: Option<f64>,
    pub swap_total: Option<u64>,
    pub swap_free: Option<u64>,
    pub swap_used_bytes: Option<u64>,
    pub swap_used_pct: Option<f64>,
}

impl Memory {
    /// Metricbeat's formulas. Differences of counters saturate at 0 where Metricbeat's
    /// unsigned arithmetic would wrap to a huge number.
    pub fn from_meminfo(m: &Meminfo) -> Memory {
        let total = m.get("MemTotal");
        let free = m.get("MemFree");
        let cached = m.get("Cached");
        // Kernels before 3.14 have no MemAvailable: Metricbeat estimates it.
        let actual_free = m.get("MemAvailable").unwrap_or_else(|| {
            free.unwrap_or(0)
                .saturating_add(m.get("Buffers").unwrap_or(0))
                .saturating_add(cached.unwrap_or(0))
        });
        let used_bytes = total.unwrap_or(0).saturating_sub(free.unwrap_or(0));
        let actual_used_bytes = total.unwrap_or(0).saturating_sub(actual_free);
        let (used_pct, actual_used_pct) = match total {
            Some(t) if t != 0 => (
                Some(round4(used_bytes as f64 / t as f64)),
                Some(round4(actual_used_bytes as f64 / t as f64)),
            ),
            _ => (None, None),
        };
        let swap_total = m.get("SwapTotal");
        let swap_free = m.get("SwapFree");
        let swap_used_bytes = match (swap_total, swap_free) {
            (Some(t), Some(f)) => Some(t.saturating_sub(f)),
            _ => None,
        };
        let swap_used_pct = match (swap_total, swap_used_bytes) {
            (Some(t), Some(u)) if t != 0 => Some(round4(u as f64 / t as f64)),
            _ => None,
        };
        Memory {
            total,
            free,
            cached,
            used_bytes,
            used_pct,
            actual_free,
            actual_used_bytes,
            actual_used_pct,
            swap_total,
            swap_free,
            swap_used_bytes,
            swap_used_pct,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_units_and_odd_lines() {
        let m = parse_meminfo(
            "MemTotal:  100 kB\nHugePages_Total:  7\nbad line\nA:b:c 5\nX: nope kB\n",
        );
        assert_eq!(m.get("MemTotal"), Some(102_400));
        assert_eq!(m.get("HugePages_Total"), Some(7));
        assert_eq!(m.0.len(), 2);
    }

    #[test]
    fn swapless_host_has_no_swap_pct() {
        let m = parse_meminfo(
            "MemTotal: 10 kB\nMemFree: 5 kB\nMemAvailable: 8 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
        );
        let mem = Memory::from_meminfo(&m);
        assert_eq!(mem.swap_total, Some(0));
        assert_eq!(mem.swap_used_bytes, Some(0));
        assert_eq!(mem.swap_used_pct, None);
        assert_eq!(mem.used_pct, Some(0.5));
        assert_eq!(mem.actual_used_pct, Some(0.2));
    }

    #[test]
    fn no_memavailable_falls_back_to_free_buffers_cached() {
        let m = parse_meminfo("MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 20 kB\n");
        let mem = Memory::from_meminfo(&m);
        assert_eq!(mem.actual_free, 35 * 1024);
        assert_eq!(mem.actual_used_bytes, 65 * 1024);
    }
}
