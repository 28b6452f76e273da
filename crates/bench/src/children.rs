//! Contender processes: started tied to the bench (they die with it), stopped with a grace
//! period, and the tail of their logs for errors.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::BenchError;

/// Start `program` so that it dies with us, its output going to `log`.
pub fn spawn_tied(program: &Path, args: &[String], log: &Path) -> Result<Child, BenchError> {
    let out = File::create(log).map_err(|e| BenchError::Io {
        what: format!("creating {}", log.display()),
        source: e,
    })?;
    let err = out.try_clone().map_err(|e| BenchError::Io {
        what: "duplicating a log handle".into(),
        source: e,
    })?;
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
    // SAFETY: prctl is async-signal-safe; the closure touches nothing else.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn().map_err(|e| BenchError::Io {
        what: format!("starting {}", program.display()),
        source: e,
    })
}

/// SIGTERM, then SIGKILL after `grace`.
pub fn stop_child(child: &mut Child, grace: Duration) {
    // SAFETY: sending a signal to our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
