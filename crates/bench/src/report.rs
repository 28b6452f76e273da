//! The bench's table, and the latency harness's summary.

use crate::contender::Guarantee;
use crate::harness::BenchReport;
use crate::latency::{LatencyReport, Percentiles};
use crate::verdict::at_least_once_twin;

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

/// The suite's summary: the backlog and machine, [`render_table`], the load average; each
/// line ends with `\n`.
pub fn render_summary(r: &BenchReport) -> String {
    format!(
        "{} events of {:.0} bytes in metric.all ({} partitions, RF {}), on {} cores ({}):\n{}load average at the end (1, 5, 15 min): {}\n",
        r.backlog.events,
        r.backlog.bytes as f64 / r.backlog.events.max(1) as f64,
        r.partitions,
        r.replication_factor,
        r.machine.cores,
        r.machine.cpu_model,
        render_table(r),
        r.machine.loadavg
    )
}

/// A plain-text table of a report: one row per contender, the rounds behind it, then the
/// targets.
pub fn render_table(r: &BenchReport) -> String {
    let mut out = aligned(&table_rows(r));
    if r.rounds > 1 {
        out.push_str(&format!(
            "\neach row is the median of {} rounds (order reversed every other round); records/s per round:\n",
            r.rounds
        ));
        for m in &r.results {
            let each: Vec<String> = r
                .runs
                .iter()
                .filter(|run| run.name == m.name)
                .map(|run| format!("{:.0}", run.records_per_s))
                .collect();
            out.push_str(&format!("  {}: {}\n", m.name, each.join(", ")));
        }
    }
    out.push_str(&exactly_once_lines(r));
    if !r.warmup_records_per_s.is_empty() {
        let passes: Vec<String> = r
            .warmup_records_per_s
            .iter()
            .map(|x| format!("{x:.0}"))
            .collect();
        out.push_str(&format!(
            "warm-up passes (not reported above), records/s: {}\n",
            passes.join(", ")
        ));
    }
    if !r.targets.is_empty() {
        out.push_str("\ntargets:\n");
        for t in &r.targets {
            out.push_str(&format!(
                "  [{}] {}: {}\n",
                if t.pass { "pass" } else { "MISS" },
                t.target,
                t.measured
            ));
        }
    }
    out
}

/// The header and one row per contender.
fn table_rows(r: &BenchReport) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = vec![vec![
        "contender".into(),
        "records/s".into(),
        "wall s".into(),
        "CPU-s".into(),
        "peak RSS MiB".into(),
        "x Java best".into(),
        "of ceiling".into(),
        "CPU / Java".into(),
        "out/in".into(),
        "alerts".into(),
        "broker CPU-s".into(),
    ]];
    for (m, q) in r.results.iter().zip(&r.ratios) {
        rows.push(vec![
            format!(
                "{}{}",
                m.name,
                if m.timed_out { " (timed out)" } else { "" }
            ),
            format!("{:.0}", m.records_per_s),
            format!("{:.1}", m.wall_s),
            format!("{:.1}", m.cpu_s),
            if m.instances > 1 {
                format!("{:.1} (sum {:.1})", m.peak_rss_mib, m.total_peak_rss_mib)
            } else {
                format!("{:.1}", m.peak_rss_mib)
            },
            opt(q.throughput_vs_java_best, |x| format!("{x:.2}x")),
            opt(q.throughput_vs_ceiling, |x| format!("{:.0}%", 100.0 * x)),
            opt(q.cpu_vs_java_least, |x| format!("{x:.3}")),
            format!("{}/{}", m.output_records, m.records),
            match (m.alerts, m.expected_alerts) {
                (Some(a), Some(e)) => format!("{a}/{e}"),
                _ => "-".into(),
            },
            opt(m.broker_cpu_s, |x| format!("{x:.1}")),
        ]);
    }
    rows
}

/// The rows in columns as wide as their widest cell: the first left-aligned, the rest
/// right-aligned, a rule under the header.
fn aligned(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if c == 0 {
                    format!("{v:<w$}", w = widths[c])
                } else {
                    format!("{v:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    out
}

/// What `metricpipe bench latency` prints: the alerts timed, each latency's p50, p90, p99
/// and max in ms, the two stages when known, the streams app's CPU and peak RSS, the load
/// average; each line ends with `\n`.
pub fn render_latency(r: &LatencyReport) -> String {
    let mut out = format!(
        "{} alerts timed at {} events/s ({} hosts), over {:.0} s:\n",
        r.broker.count, r.rate, r.hosts, r.duration_s
    );
    out.push_str(&format!(
        "  alert broker timestamp ({}) - @timestamp: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms\n",
        r.broker_timestamp_type, r.broker.p50_ms, r.broker.p90_ms, r.broker.p99_ms, r.broker.max_ms
    ));
    out.push_str(&format!(
        "  consumed by the bench - @timestamp:       p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms\n",
        r.received.p50_ms, r.received.p90_ms, r.received.p99_ms, r.received.max_ms
    ));
    if let Some(st) = &r.stages {
        let line = |label: &str, p: &Percentiles| {
            format!(
                "  {label} p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} events)\n",
                p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms, p.count
            )
        };
        out.push_str(&format!(
            "  in two stages, split at the event's broker timestamp ({}) in metric.all:\n",
            st.input_timestamp_type
        ));
        out.push_str(&line("    source -> metric.all:          ", &st.to_input));
        out.push_str(&line(
            "    metric.all -> alert (streams): ",
            &st.input_to_alert,
        ));
    }
    if let (Some(cpu), Some(rss)) = (r.streams_cpu_pct_of_core, r.streams_peak_rss_mib) {
        out.push_str(&format!(
            "  metricpipe streams meanwhile: {cpu:.1}% of one core, {rss:.1} MiB peak RSS\n"
        ));
    }
    out.push_str(&format!(
        "  load average at the end (1, 5, 15 min): {}\n",
        r.machine.loadavg
    ));
    out
}

/// What exactly_once_v2 costs each contender run under it, against its at-least-once twin of
/// the same run; empty when none ran under it.
fn exactly_once_lines(r: &BenchReport) -> String {
    let rows: Vec<String> = r
        .results
        .iter()
        .zip(&r.ratios)
        .filter(|(m, _)| m.guarantee == Guarantee::ExactlyOnceV2)
        .map(|(m, q)| {
            let twin = at_least_once_twin(m, &r.results);
            format!(
                "  {}: {:.0} records/s{}, {:.1} CPU-s{}\n",
                m.name,
                m.records_per_s,
                match (twin, q.throughput_vs_at_least_once) {
                    (Some(t), Some(x)) => format!(
                        " = {:.0}% of at_least_once's {:.0}",
                        100.0 * x,
                        t.records_per_s
                    ),
                    _ => " (no at_least_once run to compare)".into(),
                },
                m.cpu_s,
                match (twin, q.cpu_vs_at_least_once) {
                    (Some(t), Some(x)) => format!(" = {x:.2}x at_least_once's {:.1}", t.cpu_s),
                    _ => String::new(),
                }
            )
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "\nexactly_once_v2 against at_least_once (outputs counted read_committed; the \
         \"x Java best\" and \"CPU / Java\" of these rows are against Java under exactly_once_v2):\n{}",
        rows.concat()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::Stages;
    use crate::procstat::Machine;

    fn p(count: usize, p50_ms: f64) -> Percentiles {
        Percentiles {
            count,
            p50_ms,
            p90_ms: p50_ms * 2.0,
            p99_ms: p50_ms * 3.0,
            max_ms: p50_ms * 4.0,
        }
    }

    #[test]
    fn the_latency_summary_gives_each_stage_and_the_app_when_known() {
        let mut r = LatencyReport {
            rate: 1000.0,
            hosts: 10,
            duration_s: 60.0,
            events_sent: 60_000,
            broker: p(3000, 5.0),
            broker_timestamp_type: "log_append_time".into(),
            received: p(3000, 6.0),
            stages: None,
            streams_cpu_pct_of_core: None,
            streams_peak_rss_mib: Some(12.0),
            machine: Machine {
                cpu_model: "cpu".into(),
                cores: 2,
                memory_gib: 4.0,
                kernel: "6".into(),
                loadavg: "0.5 0.4 0.3".into(),
            },
        };
        let text = render_latency(&r);
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.starts_with("3000 alerts timed at 1000 events/s (10 hosts), over 60 s:\n"));
        assert!(text.contains(
            "  alert broker timestamp (log_append_time) - @timestamp: p50 5 ms, p90 10 ms, p99 15 ms, max 20 ms\n"
        ));
        assert!(text.ends_with("  load average at the end (1, 5, 15 min): 0.5 0.4 0.3\n"));
        r.stages = Some(Stages {
            input_timestamp_type: "create_time".into(),
            to_input: p(10, 1.0),
            input_to_alert: p(10, 2.0),
        });
        r.streams_cpu_pct_of_core = Some(7.25);
        let text = render_latency(&r);
        assert_eq!(text.lines().count(), 8, "{text}");
        assert!(text.contains(
            "    metric.all -> alert (streams):  p50 2 ms, p90 4 ms, p99 6 ms, max 8 ms (10 events)\n"
        ));
        assert!(text.contains("meanwhile: 7.2% of one core, 12.0 MiB peak RSS\n"));
    }
}
