//! Waiting, ports and names.

use std::process::Command;
use std::time::{Duration, Instant};

/// Polls `f` every 100 ms until it holds or `timeout` passes, then asks once more;
/// whether it held.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it).
///
/// # Panics
/// If no port can be bound.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().expect("the bound address").port()
}

/// `prefix-<12 hex digits>`: a topic or group id of one test, on a cluster others share.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}

/// A command for the binary under test (e.g. [`metricpipe_bin!`](crate::metricpipe_bin)),
/// with its own logs at `warn`: a test reads what the command prints, not its info lines.
pub fn command(bin: &str) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("METRICPIPE_LOG", "warn");
    cmd
}
