//! Starting node processes so that they die with us, or outlive us, as asked.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use crate::{Lifetime, LocalError, Result};

pub(crate) struct SpawnedNode {
    pub pid: u32,
}

pub(crate) fn check_java() -> Result<()> {
    match Command::new("java").arg("-version").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err(LocalError::NoJava),
    }
}

type Request = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Children we started and still have to reap, so that a killed node is not a zombie.
fn children() -> &'static Mutex<Vec<Child>> {
    static CHILDREN: OnceLock<Mutex<Vec<Child>>> = OnceLock::new();
    CHILDREN.get_or_init(|| Mutex::new(Vec::new()))
}

/// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process.
/// Test harnesses run each test on a thread of its own, so tied children are forked by one
/// thread that lives as long as the process.
fn tied_spawner() -> &'static Mutex<mpsc::Sender<Request>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("kafka-node-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    // SAFETY: prctl and getppid are async-signal-safe, as pre_exec requires.
                    unsafe {
                        cmd.pre_exec(|| {
                            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                            Ok(())
                        });
                    }
                    let _ = reply.send(cmd.spawn());
                }
                // The sender lives in a static, so this loop never ends and the thread
                // lives until the process exits.
            })
            .expect("spawning the kafka-node-spawner thread");
        Mutex::new(tx)
    })
}

pub(crate) fn spawn(mut cmd: Command, lifetime: Lifetime) -> std::io::Result<SpawnedNode> {
    let child = match lifetime {
        Lifetime::Detached => {
            // SAFETY: setsid is async-signal-safe; a new session keeps the node alive when
            // the terminal that ran `local up` closes.
            unsafe {
                cmd.pre_exec(|| {
                    libc::setsid();
                    Ok(())
                });
            }
            cmd.spawn()?
        }
        Lifetime::Tied => {
            let (tx, rx) = mpsc::channel();
            tied_spawner()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .send((cmd, tx))
                .map_err(|_| std::io::Error::other("the node spawner thread is gone"))?;
            rx.recv()
                .map_err(|_| std::io::Error::other("the node spawner thread is gone"))??
        }
    };
    let pid = child.id();
    children()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(child);
    Ok(SpawnedNode { pid })
}

/// Collect the exit status of `pid` if it is our child and has exited.
pub(crate) fn reap(pid: u32) {
    let mut list = children().lock().unwrap_or_else(|p| p.into_inner());
    list.retain_mut(|c| c.id() != pid || !matches!(c.try_wait(), Ok(Some(_))));
}

/// Remove `dir` when the process exits normally (the test harness calls `exit`).
pub(crate) fn remove_at_exit(dir: PathBuf) {
    static DIRS: OnceLock<Mutex<Vec<PathBuf>>> = OnceLock::new();
    let dirs = DIRS.get_or_init(|| Mutex::new(Vec::new()));
    let first = {
        let mut d = dirs.lock().unwrap_or_else(|p| p.into_inner());
        d.push(dir);
        d.len() == 1
    };
    extern "C" fn cleanup() {
        // The nodes would die anyway (PDEATHSIG), but only after us, and a node still
        // writing its log dir makes the removal below fail.
        if let Ok(list) = children().try_lock() {
            for c in list.iter() {
                // SAFETY: kill(2) on our own child's pid.
                unsafe {
                    libc::kill(c.id() as i32, libc::SIGKILL);
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        if let Some(dirs) = DIRS.get() {
            if let Ok(d) = dirs.lock() {
                for dir in d.iter() {
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
        }
    }
    if first {
        // SAFETY: registering a plain extern "C" fn with atexit.
        unsafe {
            libc::atexit(cleanup);
        }
    }
}
