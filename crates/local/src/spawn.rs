//! Starting node processes so that they die with us, or outlive us, as asked, through the
//! one supervisor in [`crate::children`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, OnceLock};

use crate::children::{LogMode, TiedChild};
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

/// A node process we started, tied or detached.
enum NodeChild {
    Tied(TiedChild),
    Detached(Child),
}

impl NodeChild {
    fn id(&self) -> u32 {
        match self {
            NodeChild::Tied(c) => c.id(),
            NodeChild::Detached(c) => c.id(),
        }
    }

    fn has_exited(&mut self) -> bool {
        match self {
            NodeChild::Tied(c) => c.exited().is_some(),
            NodeChild::Detached(c) => matches!(c.try_wait(), Ok(Some(_))),
        }
    }
}

/// Children we started and still have to reap, so that a killed node is not a zombie.
fn children() -> &'static Mutex<Vec<NodeChild>> {
    static CHILDREN: OnceLock<Mutex<Vec<NodeChild>>> = OnceLock::new();
    CHILDREN.get_or_init(|| Mutex::new(Vec::new()))
}

/// Starts a node, its stdout and stderr appended to `log`. A tied node gets SIGKILL when
/// we die.
pub(crate) fn spawn(cmd: Command, log: &Path, lifetime: Lifetime) -> std::io::Result<SpawnedNode> {
    let child = match lifetime {
        Lifetime::Detached => NodeChild::Detached(TiedChild::spawn_detached(cmd, log)?),
        Lifetime::Tied => {
            NodeChild::Tied(TiedChild::spawn(cmd, log, LogMode::Append, libc::SIGKILL)?)
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
    list.retain_mut(|c| c.id() != pid || !c.has_exited());
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
