//! What runs in a benchmark: a command line, the topics whose growth counts as its output, and how
//! many copies of it run side by side.

use std::path::{Path, PathBuf};
use std::process::Command;

use metricpipe_local::{LogMode, TiedChild};
use serde::Serialize;

use crate::BenchError;

/// The pipeline's topic names as the bench uses them (metricpipe-kafka's `topics`, their one
/// home).
pub use metricpipe_kafka::topics::{
    ALERT as ALERT_TOPIC, CPU as CPU_TOPIC, INPUT as INPUT_TOPIC, MEMORY as MEMORY_TOPIC,
};
/// The rdkafka-loop ceiling's output topic.
pub const PASSTHROUGH_TOPIC: &str = "bench.passthrough";
/// The streams-runtime ceiling's output topic (`metricpipe streams --pass-through`).
pub const STREAMS_PASSTHROUGH_TOPIC: &str = "bench.passthrough.streams";
/// The name of the streams runtime's own pass-through: a ceiling that is reported, not a
/// target (it shares the app's loop, so it says what the topology costs).
pub const STREAMS_CEILING_NAME: &str = "pass-through ceiling (streams runtime)";
/// The external pipe's output topic (`kcat -C | kcat -P`).
pub const KCAT_PASSTHROUGH_TOPIC: &str = "bench.passthrough.kcat";

/// Which family a contender belongs to; ratios compare families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Our streams app.
    Streams,
    /// The Java Kafka Streams twin.
    Java,
    /// The pass-through ceiling.
    Ceiling,
}

/// Kafka Streams' `processing.guarantee` a contender runs under. It decides how the bench
/// counts the contender's output: under exactly-once, transaction markers take offsets, so end
/// offsets over-count (see [`crate::committed`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Guarantee {
    /// Plain produce and commit: end offsets count the output.
    #[default]
    AtLeastOnce,
    /// Transactions (KIP-447): counted by committed input offsets and a read_committed read.
    ExactlyOnceV2,
}

/// What the name of a contender run under exactly_once_v2 ends with; without it, the name
/// is that of its at-least-once twin.
pub const EXACTLY_ONCE_SUFFIX: &str = ", exactly_once_v2";

/// One contender. Arguments may hold `{bootstrap}`, `{app_id}` and `{work}` (the bench's work
/// directory), filled in at run time.
#[derive(Debug, Clone)]
pub struct Contender {
    pub name: String,
    pub family: Family,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Copies started with the same application id (scale-out).
    pub instances: u32,
    /// Topics whose end offsets grow by one per input record processed.
    pub outputs: Vec<String>,
    /// The alert topic, checked after the outputs are complete.
    pub alerts: Option<String>,
    pub guarantee: Guarantee,
}

fn s(v: &str) -> String {
    v.to_string()
}

impl Contender {
    /// `metricpipe streams`, from the binary at `exe`, with `extra` flags appended.
    pub fn streams(exe: &Path, extra: &[String], instances: u32) -> Self {
        let mut args = vec![
            s("streams"),
            s("--bootstrap-servers"),
            s("{bootstrap}"),
            s("--application-id"),
            s("{app_id}"),
        ];
        args.extend(extra.iter().cloned());
        Contender {
            name: if instances == 1 {
                s("metricpipe streams")
            } else {
                format!("metricpipe streams x{instances}")
            },
            family: Family::Streams,
            program: exe.to_path_buf(),
            args,
            instances,
            outputs: vec![s(CPU_TOPIC), s(MEMORY_TOPIC)],
            alerts: Some(s(ALERT_TOPIC)),
            guarantee: Guarantee::AtLeastOnce,
        }
    }

    /// The Java twin built in `java_dir` (bench/java), with `threads` stream threads and the
    /// JVM's default settings.
    pub fn java(java_dir: &Path, threads: u32) -> Self {
        let cp = format!(
            "{}:{}",
            java_dir.join("target/classes").display(),
            java_dir.join("target/lib/*").display()
        );
        Contender {
            name: format!(
                "Java Kafka Streams, {threads} thread{}",
                if threads == 1 { "" } else { "s" }
            ),
            family: Family::Java,
            program: PathBuf::from("java"),
            args: vec![
                s("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"),
                s("-cp"),
                cp,
                s("metricpipe.bench.MetricStreams"),
                s("--bootstrap-servers"),
                s("{bootstrap}"),
                s("--threads"),
                threads.to_string(),
                s("--application-id"),
                s("{app_id}"),
                s("--state-dir"),
                s("{work}/kafka-streams-state"),
            ],
            instances: 1,
            outputs: vec![s(CPU_TOPIC), s(MEMORY_TOPIC)],
            alerts: Some(s(ALERT_TOPIC)),
            guarantee: Guarantee::AtLeastOnce,
        }
    }

    /// The pass-through ceiling: `metricpipe bench passthrough` (a bare rdkafka loop with the
    /// streams runtime's client settings) from the binary at `exe`.
    pub fn ceiling(exe: &Path, extra: &[String]) -> Self {
        let mut args = vec![
            s("bench"),
            s("passthrough"),
            s("--bootstrap-servers"),
            s("{bootstrap}"),
            s("--group-id"),
            s("{app_id}"),
            s("--input"),
            s(INPUT_TOPIC),
            s("--output"),
            s(PASSTHROUGH_TOPIC),
        ];
        args.extend(extra.iter().cloned());
        Contender {
            name: s("pass-through ceiling (rdkafka loop)"),
            family: Family::Ceiling,
            program: exe.to_path_buf(),
            args,
            instances: 1,
            outputs: vec![s(PASSTHROUGH_TOPIC)],
            alerts: None,
            guarantee: Guarantee::AtLeastOnce,
        }
    }

    /// The second ceiling: our own streams runtime copying records untouched
    /// (`metricpipe streams --pass-through`), with the same `extra` flags as the streams run.
    /// It shares every client setting and the poll/commit loop with the app, so the app's
    /// distance from it is exactly the cost of the topology.
    pub fn streams_ceiling(exe: &Path, extra: &[String]) -> Self {
        let mut flags = vec![s("--pass-through"), s(STREAMS_PASSTHROUGH_TOPIC)];
        flags.extend(extra.iter().cloned());
        Contender {
            name: s(STREAMS_CEILING_NAME),
            family: Family::Ceiling,
            outputs: vec![s(STREAMS_PASSTHROUGH_TOPIC)],
            alerts: None,
            ..Contender::streams(exe, &flags, 1)
        }
    }

    /// The external ceiling, as a user would measure one: `kcat -C … | kcat -P …` through a
    /// shell, each record's value on one line (Metricbeat's JSON has no raw newline), with
    /// kcat's own defaults for both clients. The consumer reads the backlog to its end
    /// (`-e`) from the beginning of every partition and the producer flushes on EOF.
    pub fn kcat_pipe(kcat: &Path) -> Self {
        let kcat = kcat.display();
        let pipe = format!(
            "{kcat} -C -b {{bootstrap}} -t {INPUT_TOPIC} -o beginning -e -q -f '%s\\n' \
             | {kcat} -P -b {{bootstrap}} -t {KCAT_PASSTHROUGH_TOPIC}"
        );
        Contender {
            name: s("pass-through ceiling (kcat pipe)"),
            family: Family::Ceiling,
            program: PathBuf::from("sh"),
            args: vec![s("-c"), pipe],
            instances: 1,
            outputs: vec![s(KCAT_PASSTHROUGH_TOPIC)],
            alerts: None,
            guarantee: Guarantee::AtLeastOnce,
        }
    }

    /// `metricpipe streams --processing-guarantee exactly_once_v2` with the same `extra` flags
    /// as [`Contender::streams`], one instance.
    pub fn streams_exactly_once(exe: &Path, extra: &[String]) -> Self {
        let mut flags = extra.to_vec();
        flags.extend([s("--processing-guarantee"), s("exactly_once_v2")]);
        Contender::streams(exe, &flags, 1).exactly_once()
    }

    /// The Java twin with `processing.guarantee=exactly_once_v2` (Kafka Streams' defaults
    /// under it: a 100 ms commit interval, one transactional producer per stream thread).
    pub fn java_exactly_once(java_dir: &Path, threads: u32) -> Self {
        let mut c = Contender::java(java_dir, threads);
        c.args
            .extend([s("--processing-guarantee"), s("exactly_once_v2")]);
        c.exactly_once()
    }

    fn exactly_once(mut self) -> Self {
        self.name.push_str(EXACTLY_ONCE_SUFFIX);
        self.guarantee = Guarantee::ExactlyOnceV2;
        self
    }

    /// One instance of our streams app with `threads` stream threads
    /// (`--num-stream-threads`, Kafka Streams' `num.stream.threads`): a point of the scale-out
    /// curve by threads, where [`Contender::streams`] with `instances` gives the one by
    /// processes.
    pub fn streams_threads(exe: &Path, extra: &[String], threads: u16) -> Self {
        let mut flags = extra.to_vec();
        flags.extend([s("--num-stream-threads"), threads.to_string()]);
        Contender {
            name: format!(
                "metricpipe streams, {threads} stream thread{}",
                if threads == 1 { "" } else { "s" }
            ),
            ..Contender::streams(exe, &flags, 1)
        }
    }

    /// The arguments with the placeholders filled in.
    pub fn expand(&self, bootstrap: &str, app_id: &str, work: &Path) -> Vec<String> {
        self.args
            .iter()
            .map(|a| {
                a.replace("{bootstrap}", bootstrap)
                    .replace("{app_id}", app_id)
                    .replace("{work}", &work.display().to_string())
            })
            .collect()
    }

    /// Starts one instance with `args` (see [`expand`](Self::expand)), tied to the bench: it
    /// gets SIGKILL if the bench dies, and its output goes to `log`.
    ///
    /// # Errors
    /// [`BenchError::Io`] when the log cannot be created or the program not started.
    pub fn spawn(&self, args: &[String], log: &Path) -> Result<TiedChild, BenchError> {
        let mut cmd = Command::new(&self.program);
        cmd.args(args);
        TiedChild::spawn(cmd, log, LogMode::Create, libc::SIGKILL).map_err(|e| BenchError::Io {
            what: format!(
                "starting {} (log {})",
                self.program.display(),
                log.display()
            ),
            source: e,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_in() {
        let c = Contender::java(Path::new("/b/java"), 3);
        let args = c.expand("h:1", "app-7", Path::new("/w"));
        assert!(args.contains(&"h:1".to_string()));
        assert!(args.contains(&"app-7".to_string()));
        assert!(args.contains(&"/w/kafka-streams-state".to_string()));
        assert!(args.contains(&"/b/java/target/classes:/b/java/target/lib/*".to_string()));
        assert_eq!(c.name, "Java Kafka Streams, 3 threads");
        let s = Contender::streams(Path::new("/x/metricpipe"), &["--foo".into()], 2);
        assert_eq!(s.name, "metricpipe streams x2");
        assert_eq!(s.args.last().map(String::as_str), Some("--foo"));
        assert_eq!(s.outputs, vec![CPU_TOPIC, MEMORY_TOPIC]);
        let c = Contender::streams_ceiling(Path::new("/x/metricpipe"), &[]);
        let args = c.expand("h:1", "app-8", Path::new("/w"));
        assert!(args
            .windows(2)
            .any(|w| w == ["--pass-through", STREAMS_PASSTHROUGH_TOPIC]));
        assert_eq!(c.family, Family::Ceiling);
        assert_eq!(c.outputs, vec![STREAMS_PASSTHROUGH_TOPIC]);
    }

    #[test]
    fn exactly_once_contenders_ask_for_it_and_name_their_twin() {
        let extra = ["--commit-interval=1s".to_string()];
        let c = Contender::streams_exactly_once(Path::new("/x/metricpipe"), &extra);
        let args = c.expand("h:1", "app", Path::new("/w"));
        assert_eq!(c.name, "metricpipe streams, exactly_once_v2");
        assert_eq!(c.guarantee, Guarantee::ExactlyOnceV2);
        assert!(args.contains(&"--commit-interval=1s".to_string()));
        assert!(args
            .windows(2)
            .any(|w| w == ["--processing-guarantee", "exactly_once_v2"]));
        assert_eq!(c.outputs, vec![CPU_TOPIC, MEMORY_TOPIC]);
        let j = Contender::java_exactly_once(Path::new("/b/java"), 1);
        assert_eq!(j.name, "Java Kafka Streams, 1 thread, exactly_once_v2");
        assert_eq!(j.family, Family::Java);
        assert_eq!(j.guarantee, Guarantee::ExactlyOnceV2);
        assert!(j
            .args
            .windows(2)
            .any(|w| w == ["--processing-guarantee", "exactly_once_v2"]));
        assert_eq!(
            Contender::java(Path::new("/b/java"), 1).guarantee,
            Guarantee::AtLeastOnce
        );
        assert_eq!(
            serde_json::to_string(&Guarantee::ExactlyOnceV2).unwrap(),
            "\"exactly_once_v2\""
        );
    }

    #[test]
    fn a_thread_count_is_a_streams_flag() {
        let c = Contender::streams_threads(Path::new("/x/metricpipe"), &["--foo".into()], 2);
        assert_eq!(c.name, "metricpipe streams, 2 stream threads");
        assert_eq!(c.family, Family::Streams);
        assert_eq!(c.instances, 1);
        assert!(c
            .args
            .ends_with(&["--foo".into(), "--num-stream-threads".into(), "2".into()]));
        assert_eq!(c.outputs, vec![CPU_TOPIC, MEMORY_TOPIC]);
    }

    #[test]
    fn the_kcat_pipe_reads_the_input_and_writes_its_own_topic() {
        let c = Contender::kcat_pipe(Path::new("/usr/bin/kcat"));
        let args = c.expand("127.0.0.1:9092", "app", Path::new("/w"));
        assert_eq!(args[0], "-c");
        assert!(args[1].starts_with("/usr/bin/kcat -C -b 127.0.0.1:9092 -t metric.all"));
        assert!(args[1].contains("-f '%s\\n'"), "{}", args[1]);
        assert!(args[1].ends_with("-P -b 127.0.0.1:9092 -t bench.passthrough.kcat"));
        assert_eq!(c.outputs, vec![KCAT_PASSTHROUGH_TOPIC]);
    }
}
