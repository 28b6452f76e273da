//! The one child-process supervisor: Kafka nodes, bench contenders and the demo's agent
//! and streams are all started, stopped and read through [`TiedChild`].
//!
//! A tied child gets a signal from the kernel when we die (`PR_SET_PDEATHSIG`), even by
//! SIGKILL, so it never outlives us; it is stopped with a grace period (SIGTERM, then
//! SIGKILL) and its stdout and stderr go to one log file whose tail explains a crash.

use std::fs::{File, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How a child's log file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogMode {
    /// Truncated at the start: one log per run (contenders, the demo's processes).
    Create,
    /// Appended to: a Kafka node restarted by `local start` keeps its earlier lines.
    Append,
}

/// A child process that dies with us, its stdout and stderr in one log file.
///
/// Dropping it leaves the child running (it still dies with us) unless
/// [`stop_on_drop`](TiedChild::stop_on_drop) asked otherwise.
#[derive(Debug)]
pub struct TiedChild {
    child: Child,
    log: PathBuf,
    stop_on_drop: Option<Duration>,
}

type Request = (Command, mpsc::Sender<std::io::Result<Child>>);

/// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process.
/// Test harnesses run each test on a thread of its own, so tied children are forked by one
/// thread that lives as long as the process.
fn tied_spawner() -> &'static Mutex<mpsc::Sender<Request>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("tied-child-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // The sender lives in a static, so this loop never ends and the thread
                // lives until the process exits.
            })
            .expect("spawning the tied-child-spawner thread");
        Mutex::new(tx)
    })
}

/// Opens `log` for a child's stdout and stderr: two handles on one file.
fn log_handles(log: &Path, mode: LogMode) -> std::io::Result<(File, File)> {
    let out = match mode {
        LogMode::Create => File::create(log)?,
        LogMode::Append => OpenOptions::new().create(true).append(true).open(log)?,
    };
    let err = out.try_clone()?;
    Ok((out, err))
}

impl TiedChild {
    /// Starts `cmd` (stdin from /dev/null, stdout and stderr to `log`) so that the kernel
    /// sends it `death_signal` (e.g. `libc::SIGKILL`, or `libc::SIGTERM` for a child that
    /// should shut down cleanly) when we die.
    ///
    /// # Errors
    /// Opening the log, setting the death signal or starting the program; the spawner
    /// thread gone (only if it panicked) is an [`std::io::ErrorKind::Other`].
    pub fn spawn(
        mut cmd: Command,
        log: &Path,
        mode: LogMode,
        death_signal: libc::c_int,
    ) -> std::io::Result<TiedChild> {
        let (out, err) = log_handles(log, mode)?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        // SAFETY: prctl is async-signal-safe, as pre_exec requires; the closure touches
        // nothing else.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, death_signal) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let gone = || std::io::Error::other("the child spawner thread is gone");
        let (tx, rx) = mpsc::channel();
        tied_spawner()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send((cmd, tx))
            .map_err(|_| gone())?;
        let child = rx.recv().map_err(|_| gone())??;
        Ok(TiedChild {
            child,
            log: log.to_path_buf(),
            stop_on_drop: None,
        })
    }

    /// Starts `cmd` in a session of its own that outlives us (a terminal that closes does
    /// not take it along), its output appended to `log`. Not tied: the caller finds it
    /// again by its pid.
    ///
    /// # Errors
    /// Opening the log or starting the program.
    pub fn spawn_detached(mut cmd: Command, log: &Path) -> std::io::Result<Child> {
        let (out, err) = log_handles(log, LogMode::Append)?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        // SAFETY: setsid is async-signal-safe; a new session keeps the node alive when
        // the terminal that ran `local up` closes.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        cmd.spawn()
    }

    /// Stop the child with `grace` when this value is dropped (see [`stop`](Self::stop)).
    pub fn stop_on_drop(mut self, grace: Duration) -> Self {
        self.stop_on_drop = Some(grace);
        self
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The log file its stdout and stderr go to.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The exit status once the child has exited (reaping it), `None` while it runs.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, then SIGKILL once `grace` has passed without an exit; returns when the
    /// child is gone and reaped. A child that has already exited is left alone.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited().is_some() {
            return;
        }
        // SAFETY: kill(2) on our own, not yet reaped, child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last `lines` lines of its log (empty if the log cannot be read).
    pub fn tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }
}

impl Drop for TiedChild {
    fn drop(&mut self) {
        if let Some(grace) = self.stop_on_drop {
            self.stop(grace);
        }
    }
}

/// The last `lines` lines of the file at `path`, joined with `\n` (empty if unreadable).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn output_goes_to_the_log_and_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("child.log");
        let mut child = TiedChild::spawn(
            sh("echo one; echo two >&2; echo three"),
            &log,
            LogMode::Create,
            libc::SIGKILL,
        )
        .expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.exited().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(child.tail(2), "two\nthree");
        assert_eq!(child.tail(10), "one\ntwo\nthree");
    }

    #[test]
    fn stop_ends_a_child_that_ignores_sigterm_after_the_grace() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("child.log");
        let mut child = TiedChild::spawn(
            sh("trap '' TERM; echo ready; exec sleep 30"),
            &log,
            LogMode::Create,
            libc::SIGKILL,
        )
        .expect("spawn");
        // Wait until the trap is set, or SIGTERM may reach the shell before it; `sleep`
        // inherits the ignored SIGTERM through exec.
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.tail(1) != "ready" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let started = Instant::now();
        child.stop(Duration::from_millis(300));
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(child.exited().is_some());
    }

    #[test]
    fn append_mode_keeps_the_earlier_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("node.log");
        std::fs::write(&log, "before\n").expect("write");
        let mut child = TiedChild::spawn(sh("echo after"), &log, LogMode::Append, libc::SIGKILL)
            .expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.exited().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(child.tail(5), "before\nafter");
    }
}
