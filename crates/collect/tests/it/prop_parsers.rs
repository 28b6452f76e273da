//! Property tests of the /proc parsers:
//! - arbitrary text (and arbitrary bytes in the files under a [`ProcRoot`]) never panics:
//!   `parse_stat` returns a sample or an error, `parse_meminfo` a table, and the memory
//!   formulas stay in range on any table;
//! - a well-formed `/proc/stat` or `/proc/meminfo`, with the kernel's varying field counts,
//!   spacing and extra lines, parses to exactly the numbers written.

use metricpipe_collect::{parse_meminfo, parse_stat, Memory, ProcRoot};
use proptest::prelude::*;

/// Text made of the pieces /proc files are made of, so that the parsers' branches are hit
/// far more often than with uniform characters.
fn procish_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("cpu ".to_string()),
        Just("cpu0 ".to_string()),
        Just("cpu".to_string()),
        Just("MemTotal:".to_string()),
        Just("MemAvailable:".to_string()),
        Just(" kB".to_string()),
        Just(":".to_string()),
        Just("\n".to_string()),
        Just(" ".to_string()),
        Just("\t".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551615".to_string()),
        Just("18446744073709551616".to_string()),
        "[0-9]{1,20}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn parsers_never_panic_on_any_text(text in prop_oneof![any::<String>(), procish_text()]) {
        if let Ok(sample) = parse_stat(&text) {
            prop_assert!(sample.cores >= 1);
        }
        let memory = Memory::from_meminfo(&parse_meminfo(&text));
        for pct in [memory.used_pct, memory.actual_used_pct, memory.swap_used_pct].into_iter().flatten() {
            prop_assert!(pct.is_finite() && (0.0..=1.0).contains(&pct), "{pct}");
        }
    }

    #[test]
    fn well_formed_stat_parses_exactly(
        fields in prop::collection::vec(any::<u64>(), 4..=10),
        cores in 1u32..64,
        sep in prop_oneof![Just(" "), Just("  "), Just("\t")],
        extra_before in prop::collection::vec("(intr|ctxt|btime|processes|softirq) [0-9 ]{0,30}", 0..3),
    ) {
        let mut text = String::new();
        for l in &extra_before {
            text.push_str(l);
            text.push('\n');
        }
        text.push_str("cpu ");
        let line: Vec<String> = fields.iter().map(u64::to_string).collect();
        text.push_str(&line.join(sep));
        text.push('\n');
        for c in 0..cores {
            text.push_str(&format!("cpu{c} 1 2 3 4 5 6 7 8 0 0\n"));
        }
        text.push_str("intr 1 2 3\nctxt 99\n");
        let sample = parse_stat(&text).unwrap();
        prop_assert_eq!(sample.cores, cores);
        let t = sample.times;
        let got = [t.user, t.nice, t.system, t.idle, t.iowait, t.irq, t.softirq, t.steal];
        for (i, g) in got.iter().enumerate() {
            // Fields the kernel did not write (old kernels have 4 to 7) read as 0.
            prop_assert_eq!(*g, fields.get(i).copied().unwrap_or(0));
        }
    }

    #[test]
    fn well_formed_meminfo_parses_exactly(
        entries in prop::collection::btree_map("[A-Za-z_()]{1,16}", (0u64..1u64 << 50, any::<bool>()), 0..30),
        pad in 1usize..12,
    ) {
        let mut text = String::new();
        for (k, (v, kb)) in &entries {
            let unit = if *kb { " kB" } else { "" };
            text.push_str(&format!("{k}:{}{v}{unit}\n", " ".repeat(pad)));
        }
        let m = parse_meminfo(&text);
        prop_assert_eq!(m.0.len(), entries.len());
        for (k, (v, kb)) in &entries {
            let want = if *kb { v * 1024 } else { *v };
            prop_assert_eq!(m.get(k), Some(want));
        }
    }
}

proptest! {
    // Each case writes two files: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn proc_files_with_any_bytes_never_panic(
        stat in prop::collection::vec(any::<u8>(), 0..400),
        meminfo in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::write(dir.path().join("proc/stat"), &stat).unwrap();
        std::fs::write(dir.path().join("proc/meminfo"), &meminfo).unwrap();
        let root = ProcRoot::new(dir.path()).unwrap();
        // Errors are fine (and name the file); panics are not.
        if let Err(e) = root.cpu_sample() {
            prop_assert!(e.to_string().contains("proc/stat"), "{e}");
        }
        if let Err(e) = root.meminfo() {
            prop_assert!(e.to_string().contains("proc/meminfo"), "{e}");
        }
    }
}
