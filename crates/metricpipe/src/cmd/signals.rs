//! The one signal module of every long-running command: SIGINT, SIGTERM and SIGHUP ask
//! for a graceful stop (a flag the command polls); a second signal ends the process at
//! once with status 128 + the signal, for an operator who does not want to wait.
//!
//! Built on signal-hook: a handler thread receives the signals, so nothing here runs in
//! signal context. [`wait`] sleeps on a condition variable that a stop wakes, so a waiting
//! command (the agent between its log lines) takes no CPU while nothing happens. SIGHUP is a stop, not a reload: nothing reloads its configuration, and
//! a closed terminal or `systemctl kill --signal=HUP` must not kill without a drain.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// Wakes [`wait`] when the stop flag is set.
static WOKEN: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());

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
                    set_stop();
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
    set_stop();
}

fn set_stop() {
    flag().store(true, Ordering::SeqCst);
    // Taking the lock orders the store before a waiter's check, so no wake-up is lost.
    drop(WOKEN.0.lock().unwrap_or_else(|p| p.into_inner()));
    WOKEN.1.notify_all();
}

/// Waits up to `timeout` for a stop; returns whether one was asked.
pub fn wait(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut guard = WOKEN.0.lock().unwrap_or_else(|p| p.into_inner());
    while !requested() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        guard = match WOKEN.1.wait_timeout(guard, left) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        };
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
