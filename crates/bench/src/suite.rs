//! The suite behind `metricpipe bench`: which contenders run, in which order, and what
//! counts as a finished job. [`crate::run_bench`] runs them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::contender::Contender;
use crate::harness::BenchReport;
use crate::BenchError;

/// The choice of contenders, as `metricpipe bench`'s flags give it.
#[derive(Debug, Clone, Default)]
pub struct SuitePlan {
    /// Leave out our streams app (and its variants, scale-out and thread runs).
    pub skip_streams: bool,
    /// Leave out the Java twin's at-least-once runs.
    pub skip_java: bool,
    /// Also run our streams app under exactly_once_v2.
    pub exactly_once: bool,
    /// Also run the Java twin under exactly_once_v2, once per `java_threads`.
    pub java_exactly_once: bool,
    /// Leave out the pass-through ceilings.
    pub skip_ceiling: bool,
    /// kcat for the external ceiling; `None` looks for `kcat` on `PATH`.
    pub kcat: Option<PathBuf>,
    /// Also run 2 and 3 instances of our streams app in one group.
    pub scale_out: bool,
    /// Extra flags (space-separated) for the scale-out runs only.
    pub scale_out_flags: Option<String>,
    /// One run of our streams app per stream thread count.
    pub stream_threads: Vec<u16>,
    /// Extra flags for every run of our streams app.
    pub streams_args: Vec<String>,
    /// More runs of our streams app, `LABEL=FLAGS` (space-separated flags).
    pub streams_variants: Vec<String>,
    /// Extra flags for the pass-through ceiling.
    pub ceiling_args: Vec<String>,
    /// Stream thread counts of the Java runs.
    pub java_threads: Vec<u32>,
    /// The Java twin's Maven project.
    pub java_dir: PathBuf,
}

impl SuitePlan {
    /// The contenders in the order they run: our streams app and its variants, the Java
    /// twin, the exactly_once_v2 runs, the ceilings, the scale-out runs, the thread runs.
    /// `exe` is the metricpipe binary; `note` hears what is built or left out.
    ///
    /// # Errors
    /// [`BenchError::Setup`] for a malformed variant or when every contender was skipped;
    /// the Java twin's errors (see [`ensure_java_twin`]).
    pub fn contenders(
        &self,
        exe: &Path,
        note: &dyn Fn(&str),
    ) -> Result<Vec<Contender>, BenchError> {
        let mut contenders = Vec::new();
        if !self.skip_streams {
            contenders.push(Contender::streams(exe, &self.streams_args, 1));
            for v in &self.streams_variants {
                contenders.push(self.variant(exe, v)?);
            }
        }
        if !self.skip_java {
            let dir = ensure_java_twin(&self.java_dir, note)?;
            for t in &self.java_threads {
                contenders.push(Contender::java(&dir, *t));
            }
        }
        self.exactly_once_contenders(exe, note, &mut contenders)?;
        if !self.skip_ceiling {
            self.ceilings(exe, note, &mut contenders);
        }
        if self.scale_out && !self.skip_streams {
            self.scale_out_contenders(exe, &mut contenders);
        }
        if !self.skip_streams {
            contenders.extend(
                self.stream_threads
                    .iter()
                    .map(|n| Contender::streams_threads(exe, &self.streams_args, *n)),
            );
        }
        if contenders.is_empty() {
            return Err(BenchError::Setup(
                "every contender was skipped: drop one of --skip-streams, --skip-java, --skip-ceiling".into(),
            ));
        }
        Ok(contenders)
    }

    /// One `--streams-variant LABEL=FLAGS`.
    fn variant(&self, exe: &Path, v: &str) -> Result<Contender, BenchError> {
        let (label, flags) = v.split_once('=').ok_or_else(|| {
            BenchError::Setup(format!("--streams-variant {v:?} is not LABEL=FLAGS"))
        })?;
        let mut args = self.streams_args.clone();
        args.extend(flags.split_whitespace().map(String::from));
        let mut c = Contender::streams(exe, &args, 1);
        c.name = format!("metricpipe streams ({label})");
        Ok(c)
    }

    /// The exactly_once_v2 runs that `exactly_once` and `java_exactly_once` ask for.
    fn exactly_once_contenders(
        &self,
        exe: &Path,
        note: &dyn Fn(&str),
        contenders: &mut Vec<Contender>,
    ) -> Result<(), BenchError> {
        if self.exactly_once {
            contenders.push(Contender::streams_exactly_once(exe, &self.streams_args));
        }
        if self.java_exactly_once {
            let dir = ensure_java_twin(&self.java_dir, note)?;
            for t in &self.java_threads {
                contenders.push(Contender::java_exactly_once(&dir, *t));
            }
        }
        Ok(())
    }

    /// The rdkafka loop, the streams runtime's own pass-through and the kcat pipe.
    fn ceilings(&self, exe: &Path, note: &dyn Fn(&str), contenders: &mut Vec<Contender>) {
        contenders.push(Contender::ceiling(exe, &self.ceiling_args));
        // Same flags as our streams run: the runtime's own pass-through is the fair ceiling.
        contenders.push(Contender::streams_ceiling(exe, &self.streams_args));
        match self.kcat.clone().or_else(|| find_on_path("kcat")) {
            Some(kcat) => contenders.push(Contender::kcat_pipe(&kcat)),
            None => note(
                "no kcat on PATH (apt-get install kcat): the external pipe ceiling is left out",
            ),
        }
    }

    /// 2 and 3 instances of our streams app, with the scale-out flags.
    fn scale_out_contenders(&self, exe: &Path, contenders: &mut Vec<Contender>) {
        let mut args = self.streams_args.clone();
        if let Some(flags) = &self.scale_out_flags {
            args.extend(flags.split_whitespace().map(String::from));
        }
        for n in [2, 3] {
            let mut c = Contender::streams(exe, &args, n);
            if self.scale_out_flags.is_some() {
                c.name.push_str(" (scale-out flags)");
            }
            contenders.push(c);
        }
    }
}

/// The unreported warm-up pass: the pass-through ceiling with `ceiling_args`.
pub fn warmup(exe: &Path, ceiling_args: &[String]) -> Contender {
    let mut c = Contender::ceiling(exe, ceiling_args);
    c.name = "warm-up (not reported)".into();
    c
}

/// The first `name` in a directory of `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The Java twin's project directory, built with Maven (`mvn -q -B package -DskipTests`)
/// unless its classes and libraries are there already.
///
/// # Errors
/// [`BenchError::NoJavaTwin`], [`BenchError::NoMaven`] or [`BenchError::JavaBuild`].
pub fn ensure_java_twin(dir: &Path, note: &dyn Fn(&str)) -> Result<PathBuf, BenchError> {
    let dir = dir
        .canonicalize()
        .map_err(|source| BenchError::NoJavaTwin {
            dir: dir.to_path_buf(),
            source,
        })?;
    if dir
        .join("target/classes/metricpipe/bench/MetricStreams.class")
        .exists()
        && dir.join("target/lib").exists()
    {
        return Ok(dir);
    }
    note(&format!(
        "building the Java twin in {} with Maven",
        dir.display()
    ));
    let status = Command::new("mvn")
        .args(["-q", "-B", "package", "-DskipTests"])
        .current_dir(&dir)
        .status()
        .map_err(BenchError::NoMaven)?;
    if !status.success() {
        return Err(BenchError::JavaBuild { status, dir });
    }
    Ok(dir)
}

/// The contenders that did not finish the job: timed out, outputs short of the input, or
/// alerts short of those expected. Missed performance targets are figures, not failures.
pub fn incomplete(report: &BenchReport) -> Vec<String> {
    report
        .results
        .iter()
        .filter(|m| {
            m.timed_out
                || m.output_records < m.records
                || matches!((m.alerts, m.expected_alerts), (Some(a), Some(e)) if a < e)
        })
        .map(|m| m.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> SuitePlan {
        SuitePlan {
            skip_java: true,
            kcat: Some(PathBuf::from("/usr/bin/kcat")),
            scale_out: true,
            scale_out_flags: Some("--linger 5ms".into()),
            stream_threads: vec![2],
            streams_variants: vec!["tuned=--a --b".into()],
            java_threads: vec![1, 3],
            java_dir: PathBuf::from("/nowhere"),
            ..SuitePlan::default()
        }
    }

    #[test]
    fn contenders_run_in_the_documented_order() {
        let names: Vec<String> = plan()
            .contenders(Path::new("/x/metricpipe"), &|_| {})
            .expect("plan")
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names.len(), 8, "{names:?}");
        assert_eq!(names[0], "metricpipe streams");
        assert_eq!(names[1], "metricpipe streams (tuned)");
        assert_eq!(names[2], "pass-through ceiling (rdkafka loop)");
        assert_eq!(names[3], crate::contender::STREAMS_CEILING_NAME);
        assert_eq!(names[4], "pass-through ceiling (kcat pipe)");
        assert!(names[5].ends_with("x2 (scale-out flags)"), "{names:?}");
        assert!(names[6].ends_with("x3 (scale-out flags)"), "{names:?}");
        assert_eq!(names[7], "metricpipe streams, 2 stream threads");
    }

    #[test]
    fn a_bad_variant_and_an_empty_plan_are_setup_errors() {
        let mut p = plan();
        p.streams_variants = vec!["no-label".into()];
        let e = p.contenders(Path::new("/x"), &|_| {}).unwrap_err();
        assert!(e.to_string().contains("is not LABEL=FLAGS"), "{e}");
        let empty = SuitePlan {
            skip_streams: true,
            skip_java: true,
            skip_ceiling: true,
            ..SuitePlan::default()
        };
        let e = empty.contenders(Path::new("/x"), &|_| {}).unwrap_err();
        assert!(e.to_string().contains("every contender was skipped"), "{e}");
    }
}
