//! SIGINT/SIGTERM set a flag the read loops poll (they wake every read timeout);
//! SIGHUP sets another that `audex run` takes to reload its config. Handlers
//! by signal-hook (they only store to the atomics).
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

static STOP: LazyLock<Arc<AtomicBool>> = LazyLock::new(Default::default);
static RELOAD: LazyLock<Arc<AtomicBool>> = LazyLock::new(Default::default);

/// Installs the SIGHUP handler (only the daemon reloads; others keep the default).
pub fn install_reload() {
    if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGHUP, RELOAD.clone()) {
        audex_log::warn!("cannot handle SIGHUP ({e}): reloads need a restart");
    }
}

/// True once per SIGHUP received.
pub fn take_reload() -> bool {
    RELOAD.swap(false, Ordering::SeqCst)
}

/// Installs the SIGINT and SIGTERM handlers.
pub fn install() {
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, STOP.clone()) {
            audex_log::warn!("cannot handle signal {sig} ({e}): stopping will not drain");
        }
    }
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}
