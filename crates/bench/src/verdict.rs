//! What a run says: each contender's median over the rounds, its ratios to the Java app
//! and to the ceilings, and the targets.

use std::path::PathBuf;

use serde::Serialize;

use crate::contender::{Contender, Family, Guarantee, EXACTLY_ONCE_SUFFIX, STREAMS_CEILING_NAME};

/// What one contender did.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub name: String,
    pub family: Family,
    pub guarantee: Guarantee,
    pub instances: u32,
    /// Input records it had to process.
    pub records: u64,
    /// Records that appeared on its output topics (more than `records` means duplicates);
    /// under exactly-once, the records a read_committed reader sees.
    pub output_records: u64,
    pub alerts: Option<u64>,
    pub expected_alerts: Option<u64>,
    /// From start to the last output record, including start-up and group join.
    pub wall_s: f64,
    /// From start to the first output record.
    pub startup_s: f64,
    /// From the first to the last output record: what records/s is computed over.
    pub processing_s: f64,
    pub records_per_s: f64,
    /// records / wall_s.
    pub records_per_s_wall: f64,
    /// user + system CPU of all its processes, from start to the last output record.
    pub cpu_s: f64,
    /// Largest VmHWM of one instance, MiB.
    pub peak_rss_mib: f64,
    /// Sum of the instances' VmHWM, MiB.
    pub total_peak_rss_mib: f64,
    /// CPU the Kafka brokers spent meanwhile.
    pub broker_cpu_s: Option<f64>,
    /// How busy the whole machine was while it processed, % of all cores.
    pub machine_busy_pct: Option<f64>,
    pub timed_out: bool,
    pub logs: Vec<PathBuf>,
    /// How many rounds this figure sums up: per-round runs are in `BenchReport::runs`.
    pub rounds: u32,
}

/// One contender against the best Java run and the ceiling.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub name: String,
    /// records/s over the best Java records/s.
    pub throughput_vs_java_best: Option<f64>,
    /// records/s over the ceiling's.
    pub throughput_vs_ceiling: Option<f64>,
    /// CPU-s over the least CPU-s of a Java run.
    pub cpu_vs_java_least: Option<f64>,
    /// peak RSS over the smallest Java peak RSS.
    pub rss_vs_java_least: Option<f64>,
    /// Under exactly_once_v2: records/s over its at-least-once twin's (the same contender
    /// without the guarantee, in the same run).
    pub throughput_vs_at_least_once: Option<f64>,
    /// Under exactly_once_v2: CPU-s over its at-least-once twin's.
    pub cpu_vs_at_least_once: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub target: String,
    pub measured: String,
    pub pass: bool,
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// Ratios and the targets, from the measurements of one run.
pub fn evaluate(results: &[Measurement]) -> (Vec<Ratio>, Vec<TargetCheck>) {
    let ok = |m: &&Measurement| !m.timed_out && m.records_per_s > 0.0;
    // The Java baselines are its at-least-once runs; exactly-once rows are held against the
    // Java runs under the same guarantee by `exactly_once_ratios`.
    let java: Vec<&Measurement> = results
        .iter()
        .filter(|m| m.family == Family::Java && m.guarantee == Guarantee::AtLeastOnce)
        .filter(ok)
        .collect();
    let java_best = java.iter().map(|m| m.records_per_s).reduce(f64::max);
    let java_cpu = java.iter().map(|m| m.cpu_s).reduce(f64::min);
    let java_rss = java.iter().map(|m| m.peak_rss_mib).reduce(f64::min);
    // With several ceiling contenders the fastest one is the ceiling: a slower "ceiling" would
    // flatter every "% of ceiling".
    let ceilings: Vec<&Measurement> = results
        .iter()
        .filter(|m| m.family == Family::Ceiling)
        .filter(ok)
        .collect();
    let ceiling = ceilings.iter().map(|m| m.records_per_s).reduce(f64::max);
    let ratios = results
        .iter()
        .map(|m| Ratio {
            name: m.name.clone(),
            throughput_vs_java_best: java_best.map(|j| round(m.records_per_s / j, 2)),
            throughput_vs_ceiling: ceiling.map(|c| round(m.records_per_s / c, 3)),
            cpu_vs_java_least: java_cpu.map(|j| round(m.cpu_s / j, 3)),
            rss_vs_java_least: java_rss.map(|j| round(m.peak_rss_mib / j, 4)),
            throughput_vs_at_least_once: None,
            cpu_vs_at_least_once: None,
        })
        .map(|r| exactly_once_ratios(r, results))
        .collect();
    let mut targets = Vec::new();
    // The targets are the shipped default's, at-least-once.
    for ours in results.iter().filter(|m| {
        m.family == Family::Streams && m.instances == 1 && m.guarantee == Guarantee::AtLeastOnce
    }) {
        targets.extend(targets_of(ours, java_best, java_cpu, &ceilings));
    }
    (ratios, targets)
}

/// #20's targets for one run of our streams app, against the best Java throughput, the
/// thriftiest Java CPU and each ceiling.
fn targets_of(
    ours: &Measurement,
    java_best: Option<f64>,
    java_cpu: Option<f64>,
    ceilings: &[&Measurement],
) -> Vec<TargetCheck> {
    let mut targets = Vec::new();
    if let Some(j) = java_best {
        let r = ours.records_per_s / j;
        targets.push(TargetCheck {
            target: format!("{}: {}", ours.name, "throughput >= 8x the best Java run"),
            measured: format!(
                "{:.2}x ({:.0} vs {:.0} records/s)",
                r, ours.records_per_s, j
            ),
            pass: r >= 8.0,
        });
    }
    // Issue #20: at least 90 % of each consume→produce ceiling, our rdkafka loop and an
    // external pipe alike (the runtime's own pass-through is reported, not a target).
    for c in ceilings.iter().filter(|m| m.name != STREAMS_CEILING_NAME) {
        let r = ours.records_per_s / c.records_per_s;
        targets.push(TargetCheck {
            target: format!("{}: throughput >= 90% of the {}", ours.name, c.name),
            measured: format!(
                "{:.1}% ({:.0} vs {:.0} records/s)",
                100.0 * r,
                ours.records_per_s,
                c.records_per_s
            ),
            pass: r >= 0.9,
        });
    }
    targets.push(TargetCheck {
        target: format!("{}: {}", ours.name, "peak RSS <= 50 MB"),
        measured: format!("{:.1} MiB", ours.peak_rss_mib),
        pass: ours.peak_rss_mib * 1.048_576 <= 50.0,
    });
    if let Some(j) = java_cpu {
        let r = ours.cpu_s / j;
        targets.push(TargetCheck {
            target: format!(
                "{}: {}",
                ours.name, "CPU-seconds <= 1/5 of the Java app's (its thriftiest run)"
            ),
            measured: format!("{:.3} ({:.1} vs {:.1} CPU-s)", r, ours.cpu_s, j),
            pass: r <= 0.2,
        });
    }
    targets
}

/// The at-least-once run that `m` (under exactly_once_v2) is the twin of: the same name
/// without [`EXACTLY_ONCE_SUFFIX`].
pub fn at_least_once_twin<'a>(
    m: &Measurement,
    results: &'a [Measurement],
) -> Option<&'a Measurement> {
    let base = m.name.strip_suffix(EXACTLY_ONCE_SUFFIX)?;
    results
        .iter()
        .find(|r| r.name == base && r.guarantee == Guarantee::AtLeastOnce)
}

/// For a row under exactly_once_v2: its cost against its at-least-once twin, and "x Java
/// best" / "CPU / Java" against the Java runs under exactly_once_v2 (none: no figure).
fn exactly_once_ratios(mut r: Ratio, results: &[Measurement]) -> Ratio {
    let Some(m) = results
        .iter()
        .find(|m| m.name == r.name && m.guarantee == Guarantee::ExactlyOnceV2)
    else {
        return r;
    };
    if let Some(twin) = at_least_once_twin(m, results).filter(|t| !t.timed_out) {
        r.throughput_vs_at_least_once =
            (twin.records_per_s > 0.0).then(|| round(m.records_per_s / twin.records_per_s, 3));
        r.cpu_vs_at_least_once = (twin.cpu_s > 0.0).then(|| round(m.cpu_s / twin.cpu_s, 3));
    }
    let java: Vec<&Measurement> = results
        .iter()
        .filter(|j| j.family == Family::Java && j.guarantee == Guarantee::ExactlyOnceV2)
        .filter(|j| !j.timed_out && j.records_per_s > 0.0)
        .collect();
    let best = java.iter().map(|j| j.records_per_s).fold(0.0, f64::max);
    let least_cpu = java.iter().map(|j| j.cpu_s).fold(f64::INFINITY, f64::min);
    let least_rss = java
        .iter()
        .map(|j| j.peak_rss_mib)
        .fold(f64::INFINITY, f64::min);
    r.throughput_vs_java_best = (best > 0.0).then(|| round(m.records_per_s / best, 2));
    r.cpu_vs_java_least = least_cpu.is_finite().then(|| round(m.cpu_s / least_cpu, 3));
    r.rss_vs_java_least = least_rss
        .is_finite()
        .then(|| round(m.peak_rss_mib / least_rss, 4));
    r
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One measurement per contender, in the contenders' order: the median of its runs for
/// rates, times and CPU; the largest for memory; timed out if any run timed out.
pub fn summarize_rounds(runs: &[Measurement], contenders: &[Contender]) -> Vec<Measurement> {
    contenders
        .iter()
        .filter_map(|c| {
            let mine: Vec<&Measurement> = runs.iter().filter(|m| m.name == c.name).collect();
            let first = *mine.first()?;
            let med = |f: fn(&Measurement) -> f64| median(mine.iter().map(|m| f(m)).collect());
            let max = |f: fn(&Measurement) -> f64| mine.iter().map(|m| f(m)).fold(0.0, f64::max);
            let broker: Vec<f64> = mine.iter().filter_map(|m| m.broker_cpu_s).collect();
            let busy: Vec<f64> = mine.iter().filter_map(|m| m.machine_busy_pct).collect();
            Some(Measurement {
                wall_s: med(|m| m.wall_s),
                startup_s: med(|m| m.startup_s),
                processing_s: med(|m| m.processing_s),
                records_per_s: med(|m| m.records_per_s),
                records_per_s_wall: med(|m| m.records_per_s_wall),
                cpu_s: med(|m| m.cpu_s),
                peak_rss_mib: max(|m| m.peak_rss_mib),
                total_peak_rss_mib: max(|m| m.total_peak_rss_mib),
                broker_cpu_s: (!broker.is_empty()).then(|| median(broker)),
                machine_busy_pct: (!busy.is_empty()).then(|| median(busy)),
                timed_out: mine.iter().any(|m| m.timed_out),
                output_records: mine.iter().map(|m| m.output_records).max().unwrap_or(0),
                logs: mine.iter().flat_map(|m| m.logs.clone()).collect(),
                rounds: mine.len() as u32,
                ..first.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn measured(name: &str, family: Family, records_per_s: f64, cpu_s: f64) -> Measurement {
        Measurement {
            name: name.into(),
            family,
            guarantee: Guarantee::AtLeastOnce,
            instances: 1,
            records: 1000,
            output_records: 1000,
            alerts: None,
            expected_alerts: None,
            wall_s: 1.0,
            startup_s: 0.0,
            processing_s: 1.0,
            records_per_s,
            records_per_s_wall: records_per_s,
            cpu_s,
            peak_rss_mib: 40.0,
            total_peak_rss_mib: 40.0,
            broker_cpu_s: None,
            machine_busy_pct: None,
            timed_out: false,
            logs: Vec::new(),
            rounds: 1,
        }
    }

    #[test]
    fn rounds_sum_up_to_the_median_per_contender_in_contender_order() {
        let exe = Path::new("/x");
        let ours = Contender::streams(exe, &[], 1);
        let ceiling = Contender::ceiling(exe, &[]);
        let mut slow = measured(&ours.name, Family::Streams, 90.0, 3.0);
        slow.peak_rss_mib = 45.0;
        let runs = vec![
            measured(&ceiling.name, Family::Ceiling, 200.0, 1.0),
            slow,
            measured(&ours.name, Family::Streams, 150.0, 2.0),
            measured(&ours.name, Family::Streams, 120.0, 2.5),
        ];
        let results = summarize_rounds(&runs, &[ours.clone(), ceiling.clone()]);
        assert_eq!(results.len(), 2);
        assert_eq!(results[0].name, ours.name);
        assert_eq!(results[0].rounds, 3);
        assert_eq!(results[0].records_per_s, 120.0);
        assert_eq!(results[0].cpu_s, 2.5);
        assert_eq!(results[0].peak_rss_mib, 45.0, "memory: the largest run");
        assert_eq!(results[1].records_per_s, 200.0);
        assert_eq!(median(vec![1.0, 4.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn exactly_once_rows_are_held_against_their_twin_and_java_under_exactly_once() {
        let eos = |mut m: Measurement| {
            m.guarantee = Guarantee::ExactlyOnceV2;
            m
        };
        let results = vec![
            measured("metricpipe streams", Family::Streams, 200.0, 4.0),
            eos(measured(
                "metricpipe streams, exactly_once_v2",
                Family::Streams,
                150.0,
                5.0,
            )),
            measured("Java Kafka Streams, 1 thread", Family::Java, 40.0, 20.0),
            eos(measured(
                "Java Kafka Streams, 1 thread, exactly_once_v2",
                Family::Java,
                10.0,
                25.0,
            )),
        ];
        let (ratios, targets) = evaluate(&results);
        assert_eq!(ratios[1].throughput_vs_at_least_once, Some(0.75));
        assert_eq!(ratios[1].cpu_vs_at_least_once, Some(1.25));
        assert_eq!(
            ratios[1].throughput_vs_java_best,
            Some(15.0),
            "150 / Java EOS 10"
        );
        assert_eq!(ratios[1].cpu_vs_java_least, Some(0.2), "5 / Java EOS 25");
        assert_eq!(
            ratios[0].throughput_vs_java_best,
            Some(5.0),
            "200 / Java ALO 40"
        );
        assert_eq!(ratios[3].throughput_vs_at_least_once, Some(0.25));
        assert_eq!(ratios[0].throughput_vs_at_least_once, None);
        assert!(!targets.is_empty());
        assert!(
            targets
                .iter()
                .all(|t| !t.target.contains("exactly_once_v2")),
            "the targets are at-least-once's"
        );
        assert_eq!(
            at_least_once_twin(&results[3], &results).map(|t| t.name.as_str()),
            Some("Java Kafka Streams, 1 thread")
        );
        assert!(at_least_once_twin(&results[0], &results).is_none());
    }

    #[test]
    fn ratios_use_the_fastest_ceiling_and_targets_hold_each_external_one() {
        let results = vec![
            measured("ours", Family::Streams, 150.0, 2.0),
            measured("java", Family::Java, 30.0, 10.0),
            measured(
                "pass-through ceiling (rdkafka loop)",
                Family::Ceiling,
                160.0,
                1.0,
            ),
            measured(STREAMS_CEILING_NAME, Family::Ceiling, 155.0, 1.0),
            measured(
                "pass-through ceiling (kcat pipe)",
                Family::Ceiling,
                300.0,
                1.0,
            ),
        ];
        let (ratios, targets) = evaluate(&results);
        assert_eq!(ratios[0].throughput_vs_ceiling, Some(0.5));
        assert_eq!(ratios[2].throughput_vs_ceiling, Some(0.533));
        assert_eq!(ratios[0].throughput_vs_java_best, Some(5.0));
        let verdict = |what: &str| {
            targets
                .iter()
                .filter(|t| t.target.contains(what))
                .map(|t| t.pass)
                .collect::<Vec<_>>()
        };
        assert_eq!(verdict("rdkafka loop"), [true], "150 of 160 is 93.75 %");
        assert_eq!(verdict("kcat pipe"), [false], "150 of 300");
        assert_eq!(verdict("streams runtime"), [] as [bool; 0], "not a target");
        assert_eq!(verdict("8x"), [false], "5x the Java app");
    }
}
