//! `/proc/stat` parsing and Metricbeat's cpu percentages
//! (elastic-agent-system-metrics `metric/cpu`, see METRICBEAT.md §5).

/// The eight states in the order Metricbeat's documentation lists them.
pub const CPU_STATES: [&str; 8] = [
    "user", "system", "idle", "nice", "iowait", "irq", "softirq", "steal",
];

/// Cumulative counters of the `cpu ` line, in USER_HZ ticks. guest/guest_nice are left out:
/// the kernel already counts them in user/nice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTimes {
    /// Sum of the eight states; wraps rather than panics on absurd counters.
    pub fn total(&self) -> u64 {
        self.states()
            .iter()
            .fold(0u64, |acc, (_, v)| acc.wrapping_add(*v))
    }

    /// `(name, counter)` in [`CPU_STATES`] order.
    pub fn states(&self) -> [(&'static str, u64); 8] {
        [
            ("user", self.user),
            ("system", self.system),
            ("idle", self.idle),
            ("nice", self.nice),
            ("iowait", self.iowait),
            ("irq", self.irq),
            ("softirq", self.softirq),
            ("steal", self.steal),
        ]
    }
}

/// One reading of `/proc/stat`: the aggregate counters and the number of `cpuN` lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuSample {
    pub times: CpuTimes,
    pub cores: u32,
}

/// Parse `/proc/stat`. The `cpu ` line gives the counters; each `cpuN` line is one online core.
pub fn parse_stat(text: &str) -> Result<CpuSample, String> {
    let mut times = None;
    let mut cores = 0u32;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            continue;
        };
        if rest.starts_with(' ') {
            let mut values = [0u64; 8];
            let mut count = 0;
            for (i, field) in rest.split_whitespace().take(8).enumerate() {
                values[i] = field
                    .parse()
                    .map_err(|_| format!("the `cpu` line has a non-numeric field {field:?}"))?;
                count = i + 1;
            }
            if count < 4 {
                return Err(format!(
                    "the `cpu` line has {count} fields, at least 4 (user nice system idle) are needed"
                ));
            }
            let [user, nice, system, idle, iowait, irq, softirq, steal] = values;
            times = Some(CpuTimes {
                user,
                nice,
                system,
                idle,
                iowait,
                irq,
                softirq,
                steal,
            });
        } else if rest.starts_with(|c: char| c.is_ascii_digit()) {
            cores += 1;
        }
    }
    let times = times.ok_or_else(|| "no aggregate `cpu ` line; is this /proc/stat?".to_string())?;
    if cores == 0 {
        return Err("no per-CPU `cpuN` lines; is this /proc/stat?".into());
    }
    Ok(CpuSample { times, cores })
}

/// Metricbeat's `Round`: 4 decimals, half-up for non-negative values; negative values
/// round down because `Modf` keeps the sign of the fraction (`Round(-0.00001) = -0.0001`).
pub fn round4(v: f64) -> f64 {
    let pow = 10_000f64;
    let digit = pow * v;
    let rounded = if digit.fract() >= 0.5 {
        digit.ceil()
    } else {
        digit.floor()
    };
    rounded / pow
}

/// One state's share of the interval: `pct` in 0..cores and `norm` in 0..1, both rounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatePct {
    pub pct: f64,
    pub norm: f64,
}

/// The cpu metricset's values for one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuUsage {
    pub cores: u32,
    /// In [`CPU_STATES`] order.
    pub states: [(&'static str, StatePct); 8],
    pub total: StatePct,
    /// The later sample's cumulative counters, for `cpu.metrics: [ticks]`.
    pub ticks: CpuTimes,
}

impl CpuUsage {
    pub fn state(&self, name: &str) -> Option<StatePct> {
        self.states
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
    }
}

/// Why a pair of samples gives no cpu event: the total of the counters did not advance.
/// Metricbeat fails such a fetch when the totals are equal ("previous sample is newer than
/// current sample"); a total that went back (CPU hotplug, VM migration) would make its
/// uint64 time delta wrap, so we skip that pair too rather than emit near-zero values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpuSkip {
    #[error("no cpu time elapsed between the two /proc/stat samples (total {before} -> {after})")]
    TotalDidNotAdvance { before: u64, after: u64 },
}

/// Metricbeat's percentages from `prev` to `cur`, bit for bit: each state is
/// `Round(delta / timeDelta * cores)` (divide first, then multiply), and the total is
/// `Round(cores - (idle + iowait))` over the already rounded states. Cores come from `cur`.
///
/// A state counter that goes backwards (iowait and steal do, by kernel design) gives a
/// negative delta, as Metricbeat's `int64(current - prev)` does; the event is still emitted.
pub fn cpu_usage(prev: &CpuSample, cur: &CpuSample) -> Result<CpuUsage, CpuSkip> {
    let (before, after) = (prev.times.total(), cur.times.total());
    if after <= before {
        return Err(CpuSkip::TotalDidNotAdvance { before, after });
    }
    let time_delta = after - before;
    let cores = f64::from(cur.cores);
    let prev_states = prev.times.states();
    let states = cur.times.states().map(|(name, after)| {
        let before = prev_states
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v);
        let delta = after.wrapping_sub(before) as i64;
        let share = delta as f64 / time_delta as f64;
        (
            name,
            StatePct {
                pct: round4(share * cores),
                norm: round4(share),
            },
        )
    });
    let get = |name: &str| {
        states.iter().find(|(n, _)| *n == name).map_or(
            StatePct {
                pct: 0.0,
                norm: 0.0,
            },
            |(_, p)| *p,
        )
    };
    let (idle, iowait) = (get("idle"), get("iowait"));
    let total = StatePct {
        pct: round4(cores - (idle.pct + iowait.pct)),
        norm: round4(1.0 - (idle.norm + iowait.norm)),
    };
    Ok(CpuUsage {
        cores: cur.cores,
        states,
        total,
        ticks: cur.times,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round4_is_half_up_and_floors_negatives() {
        assert_eq!(round4(0.00005), 0.0001);
        assert_eq!(round4(0.00004), 0.0);
        assert_eq!(round4(0.12345), 0.1235);
        assert_eq!(round4(-0.00001), -0.0001);
        assert_eq!(round4(1.0), 1.0);
    }

    #[test]
    fn ten_cores_user_and_system() {
        // The library's own TestMetricsPercentages case.
        let prev = CpuSample {
            times: CpuTimes::default(),
            cores: 10,
        };
        let cur = CpuSample {
            times: CpuTimes {
                user: 30,
                system: 70,
                ..CpuTimes::default()
            },
            cores: 10,
        };
        let u = cpu_usage(&prev, &cur).unwrap();
        assert_eq!(
            u.state("user").unwrap(),
            StatePct {
                pct: 3.0,
                norm: 0.3
            }
        );
        assert_eq!(
            u.state("system").unwrap(),
            StatePct {
                pct: 7.0,
                norm: 0.7
            }
        );
        assert_eq!(
            u.state("idle").unwrap(),
            StatePct {
                pct: 0.0,
                norm: 0.0
            }
        );
        assert_eq!(
            u.total,
            StatePct {
                pct: 10.0,
                norm: 1.0
            }
        );
    }

    #[test]
    fn only_a_total_that_does_not_advance_is_skipped() {
        let s = parse_stat("cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n").unwrap();
        assert!(matches!(
            cpu_usage(&s, &s),
            Err(CpuSkip::TotalDidNotAdvance { .. })
        ));
        let mut back = s;
        back.times.user = 0;
        assert!(matches!(
            cpu_usage(&s, &back),
            Err(CpuSkip::TotalDidNotAdvance { .. })
        ));
    }

    #[test]
    fn iowait_going_backwards_gives_signed_deltas_as_metricbeat() {
        // Issue #16's example: 2 cores, iowait 100 -> 97.
        let prev = parse_stat("cpu  1000 0 500 5000 100 0 0 0 0 0\ncpu0 0\ncpu1 0\n").unwrap();
        let cur = parse_stat("cpu  1160 0 520 5023 97 0 0 0 0 0\ncpu0 0\ncpu1 0\n").unwrap();
        let u = cpu_usage(&prev, &cur).unwrap();
        assert_eq!(
            u.state("iowait").unwrap(),
            StatePct {
                pct: -0.03,
                norm: -0.015
            }
        );
        assert_eq!(
            u.state("idle").unwrap(),
            StatePct {
                pct: 0.23,
                norm: 0.115
            }
        );
        assert_eq!(
            u.state("user").unwrap(),
            StatePct {
                pct: 1.6,
                norm: 0.8
            }
        );
        assert_eq!(
            u.total,
            StatePct {
                pct: 1.8,
                norm: 0.9
            }
        );
    }

    #[test]
    fn stat_without_cpu_lines_is_an_error() {
        assert!(parse_stat("intr 1 2 3\n").is_err());
        assert!(parse_stat("cpu  1 x 3 4\ncpu0 1 2 3 4\n").is_err());
        assert!(parse_stat("cpu  1 2 3 4\n").is_err());
    }
}
