//! The collector's own log lines on stderr. Takes a level and a message; gives
//! `audex: message` (text, for people at a terminal) or one JSON object per line,
//! `{"ts":1795789579.451,"level":"warn","msg":"..."}` (for a log pipeline; `audex
//! run` defaults to it). Log messages describe the collector, never event contents;
//! control characters in them are escaped.
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

/// Switches every later line to JSON (`true`) or text.
pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Writes one line (use the macros).
pub fn emit(level: Level, msg: std::fmt::Arguments) {
    // Messages may quote what receivers and records said: escaped, so such text
    // can neither forge a line nor reach the terminal as control codes.
    let text = msg.to_string();
    let msg = audex_io::escape(&text);
    let line = if JSON.load(Ordering::Relaxed) {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        format!(
            "{{\"ts\":{}.{:03},\"level\":\"{}\",\"msg\":{}}}\n",
            ts.as_secs(),
            ts.subsec_millis(),
            level.as_str(),
            serde_json::Value::String(msg.into_owned())
        )
    } else {
        format!("audex: {msg}\n")
    };
    // One write per line, so lines from threads do not interleave.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[macro_export]
macro_rules! info {
    ($($t:tt)*) => { $crate::emit($crate::Level::Info, format_args!($($t)*)) };
}

#[macro_export]
macro_rules! warn {
    ($($t:tt)*) => { $crate::emit($crate::Level::Warn, format_args!($($t)*)) };
}

#[macro_export]
macro_rules! error {
    ($($t:tt)*) => { $crate::emit($crate::Level::Error, format_args!($($t)*)) };
}
