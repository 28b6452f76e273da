//! For any two valid samples the percentages stay in range and `pct` is `norm.pct × cores`.

use metricpipe_collect::{cpu_usage, CpuSample, CpuTimes};
use proptest::prelude::*;

fn times(v: [u64; 8]) -> CpuTimes {
    let [user, nice, system, idle, iowait, irq, softirq, steal] = v;
    CpuTimes {
        user,
        nice,
        system,
        idle,
        iowait,
        irq,
        softirq,
        steal,
    }
}

fn add(a: [u64; 8], d: [u64; 8]) -> [u64; 8] {
    std::array::from_fn(|i| a[i] + d[i])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]
    #[test]
    fn percentages_in_range(
        base in proptest::array::uniform8(0u64..1u64 << 40),
        delta in proptest::array::uniform8(prop_oneof![Just(0u64), 0u64..50, 0u64..10_000_000]),
        cores in 1u32..512,
        prev_cores in 1u32..512,
    ) {
        prop_assume!(delta.iter().any(|d| *d > 0));
        let prev = CpuSample { times: times(base), cores: prev_cores };
        let cur = CpuSample { times: times(add(base, delta)), cores };
        let u = cpu_usage(&prev, &cur).unwrap();
        let c = f64::from(cores);
        // Each state is rounded once on each side; the total adds the rounding of idle and iowait.
        let states = u.states.iter().map(|(_, p)| (*p, 0.00005 * (c + 1.0)));
        let total = std::iter::once((u.total, 0.00015 * (c + 1.0)));
        for (p, tolerance) in states.chain(total) {
            prop_assert!((-0.0001..=1.0001).contains(&p.norm), "norm {} out of range: {:?}", p.norm, u);
            prop_assert!((p.pct - p.norm * c).abs() <= tolerance + 1e-9,
                "pct {} vs norm {} x {cores}", p.pct, p.norm);
        }
    }
}
