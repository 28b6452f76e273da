//! The one signal module of every long-running command: SIGINT, SIGTERM and SIGHUP ask
//! for a graceful stop (a flag the command polls); a second signal ends the process at
//! once with status 128 + the signal, for an operator who does not want to wait.
//!
//! Built on signal-hook: a handler thread receives the signals, so nothing here runs in
//! signal context. SIGHUP is a stop, not a reload: nothing reloads its configuration, and
//! a closed terminal or `systemctl kill --signal=HUP` must not kill without a drain.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();
static RECEIVED: AtomicI32 = AtomicI32::new(0);

fn flag() -> &'static Arc<AtomicBool> {
    STOP.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Routes SIGINT, SIGTERM and SIGHUP to the stop flag and returns it (the same flag on
/// every call). Call it before the work starts.
pub fn install() -> anyhow::Result<Arc<AtomicBool>> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.get().is_none() {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
            .map_err(|e| anyhow::anyhow!("installing the signal handlers failed: {e}"))?;
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    if RECEIVED.swap(sig, Ordering::SeqCst) != 0 {
                        // A second signal: the operator does not want to wait.
                        std::process::exit(128 + sig);
                    }
                    tracing::info!(signal = name(sig), "stop requested");
                    flag().store(true, Ordering::SeqCst);
                }
            })?;
        let _ = INSTALLED.set(());
    }
    Ok(Arc::clone(flag()))
}

/// Whether a stop was asked (a signal, or [`request`]).
pub fn requested() -> bool {
    flag().load(Ordering::SeqCst)
}

/// Asks for a stop from inside (the dashboard's `q`, a time limit).
pub fn request() {
    flag().store(true, Ordering::SeqCst);
}

/// Waits up to `timeout` for a stop; returns whether one was asked.
pub fn wait(timeout: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while !requested() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(left.min(std::time::Duration::from_millis(50)));
    }
    true
}

/// The name of the first signal received (`SIGTERM`…), or `request` for [`request`].
pub fn received() -> &'static str {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => "request",
        sig => name(sig),
    }
}

fn name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "signal",
    }
}
