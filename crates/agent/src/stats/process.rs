//! This process's figures for the monitoring endpoint: `/proc/self/{statm,stat,fd}`,
//! `RLIMIT_NOFILE`, the user, the CPU count and `/proc/loadavg`. Anything unreadable is 0
//! (or absent), never an error: the endpoint must answer.

/// This process's resources, as libbeat's `beat.*` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessFigures {
    pub rss_bytes: u64,
    pub cpu_user_ms: u64,
    pub cpu_system_ms: u64,
    pub open_fds: u64,
    pub fd_soft: u64,
    pub fd_hard: u64,
}

/// Go's `runtime.GOARCH` for this build (`amd64`, `arm64`, ...).
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// (username, uid, gid) as strings; the username is empty when the uid has no entry.
pub fn user() -> (String, String, String) {
    // SAFETY: getuid/getgid cannot fail; getpwuid_r writes into the buffers we own.
    unsafe {
        let (uid, gid) = (libc::getuid(), libc::getgid());
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut out);
        let name = if rc == 0 && !out.is_null() && !pwd.pw_name.is_null() {
            std::ffi::CStr::from_ptr(pwd.pw_name)
                .to_string_lossy()
                .into_owned()
        } else {
            String::new()
        };
        (name, uid.to_string(), gid.to_string())
    }
}

/// Online CPUs.
pub fn cores() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// `/proc/loadavg`'s first three numbers.
pub fn loadavg() -> Option<[f64; 3]> {
    parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// utime and stime (fields 14 and 15 of `/proc/self/stat`) in clock ticks.
fn parse_stat_times(stat: &str) -> Option<(u64, u64)> {
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// RSS, CPU time, open descriptors and their limits.
pub fn figures() -> ProcessFigures {
    // SAFETY: sysconf and getrlimit write only into values we own.
    let (page, hz, limit) = unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        (
            libc::sysconf(libc::_SC_PAGESIZE).max(1) as u64,
            libc::sysconf(libc::_SC_CLK_TCK).max(1) as u64,
            lim,
        )
    };
    let rss_pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|t| t.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    let (utime, stime) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| parse_stat_times(&t))
        .unwrap_or((0, 0));
    let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    ProcessFigures {
        rss_bytes: rss_pages * page,
        cpu_user_ms: utime * 1000 / hz,
        cpu_system_ms: stime * 1000 / hz,
        open_fds,
        fd_soft: limit.rlim_cur,
        fd_hard: limit.rlim_max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(
            parse_loadavg("0.52 0.58 0.59 2/301 12345\n"),
            Some([0.52, 0.58, 0.59])
        );
        assert_eq!(parse_loadavg("garbage"), None);
        let stat = "4242 (metric pipe) S 1 4242 4242 0 -1 4194560 100 0 0 0 37 12 0 0 20 0 9 0";
        assert_eq!(parse_stat_times(stat), Some((37, 12)));
    }

    #[test]
    fn this_process_has_rss_descriptors_and_a_user() {
        let f = figures();
        assert!(f.rss_bytes > 0 && f.open_fds > 0 && f.fd_soft > 0, "{f:?}");
        let (_, uid, gid) = user();
        assert!(uid.parse::<u32>().is_ok() && gid.parse::<u32>().is_ok());
        assert!(cores() >= 1);
        assert!(loadavg().is_some());
    }
}
