//! SIGINT/SIGTERM request a [`Shutdown`] the read loops poll (they wake every
//! read timeout); SIGHUP sets a flag that `audex run` takes to reload its
//! config. Handlers by signal-hook (they only store to atomics).
use crate::pipeline::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

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

/// SIGINT and SIGTERM request `shutdown`.
pub fn install(shutdown: &Shutdown) {
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, shutdown.flag()) {
            audex_log::warn!("cannot handle signal {sig} ({e}): stopping will not drain");
        }
    }
}
