//! CPU time and memory of a process, from /proc.

use std::path::Path;

use serde::Serialize;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ProcSample {
    /// utime + stime of every thread, and of the children it has waited for, in seconds.
    pub cpu_s: f64,
    /// Resident set now, KiB.
    pub rss_kib: u64,
    /// Peak resident set (VmHWM), KiB.
    pub hwm_kib: u64,
}

impl ProcSample {
    /// `newer`, keeping the highest peak of the two. A process that has exited but is not yet
    /// waited for (a zombie, like a finished `sh -c 'a | b'` when its last output arrives) still
    /// has a stat line, so its CPU is read, but no memory lines (its `VmHWM` reads as 0): a peak
    /// must come from the readings taken while it ran.
    pub fn then(self, newer: ProcSample) -> ProcSample {
        ProcSample {
            hwm_kib: self.hwm_kib.max(newer.hwm_kib),
            ..newer
        }
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Reads /proc/<pid>/stat and /proc/<pid>/status; `None` once the process is gone.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let dir = Path::new("/proc").join(pid.to_string());
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the name and state.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // cutime, cstime: children that exited and were waited for (a shell's finished commands).
    let children: f64 =
        fields.get(13)?.parse::<f64>().ok()? + fields.get(14)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Some(ProcSample {
        cpu_s: (utime + stime + children) / clock_ticks(),
        rss_kib: kib("VmRSS:"),
        hwm_kib: kib("VmHWM:"),
    })
}

/// `pid` and every live process below it (the commands of a shell pipeline), summed. The
/// peak is the sum of each one's peak: an upper bound of the tree's. `None` once `pid` is gone.
pub fn sample_tree(pid: u32) -> Option<ProcSample> {
    let mut total = sample(pid)?;
    let mut todo = children(pid);
    while let Some(child) = todo.pop() {
        todo.extend(children(child));
        if let Some(s) = sample(child) {
            total.cpu_s += s.cpu_s;
            total.rss_kib += s.rss_kib;
            total.hwm_kib += s.hwm_kib;
        }
    }
    Some(total)
}

/// The children of `pid`'s threads (`/proc/<pid>/task/*/children`, Linux 3.5+).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(Path::new("/proc").join(pid.to_string()).join("task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Busy and total jiffies of the whole machine (the `cpu` line of /proc/stat).
pub fn machine_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// What this machine is, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    /// /proc/loadavg when the report was made: how much else the machine was doing.
    pub loadavg: String,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string();
    Machine {
        cpu_model,
        cores,
        memory_gib: (mem_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        kernel,
        loadavg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sh -c PIPELINE` once both of its commands run (or after 3 s).
    fn two_command_pipeline(pipeline: &str) -> std::process::Child {
        let sh = std::process::Command::new("sh")
            .args(["-c", pipeline])
            .spawn()
            .expect("sh");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while children(sh.id()).len() < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        sh
    }

    #[test]
    fn a_shell_pipeline_is_measured_with_its_commands() {
        let mut sh = two_command_pipeline("sleep 5 | sleep 5");
        let pid = sh.id();
        let alone = sample(pid).expect("sh runs");
        let tree = sample_tree(pid).expect("sh runs");
        let _ = sh.kill();
        let _ = sh.wait();
        assert_eq!(children(pid).len(), 0, "gone");
        assert!(tree.rss_kib > alone.rss_kib, "{tree:?} vs {alone:?}");
    }

    #[test]
    fn an_exited_pipeline_keeps_the_peak_read_while_it_ran() {
        let mut sh = two_command_pipeline("sleep 0.3 | sleep 0.3");
        let pid = sh.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let running = sample_tree(pid).expect("sh runs");
        // Not waited for: sh stays a zombie once the pipeline is done.
        let is_zombie = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s[s.rfind(')').unwrap() + 2..].starts_with('Z'))
                .unwrap_or(false)
        };
        while !is_zombie() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let exited = sample_tree(pid).expect("a zombie still has a stat line");
        let _ = sh.wait();
        assert!(running.hwm_kib > 0, "{running:?}");
        assert_eq!(exited.hwm_kib, 0, "a zombie has no VmHWM: {exited:?}");
        assert_eq!(running.then(exited).hwm_kib, running.hwm_kib);
    }

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        // Burn a little CPU so the reading is above zero.
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        assert!(x != 1);
        let s = sample(std::process::id()).unwrap();
        assert!(s.cpu_s > 0.0);
        assert!(s.rss_kib > 0 && s.hwm_kib >= s.rss_kib);
        assert!(sample(u32::MAX).is_none());
        let (busy, total) = machine_jiffies().unwrap();
        assert!(total >= busy && total > 0);
        assert!(machine().cores >= 1);
    }
}
