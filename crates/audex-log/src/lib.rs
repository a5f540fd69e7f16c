//! The collector's own log lines on stderr, through `tracing` (so the events
//! of its dependencies, kube, hyper, tonic and rustls, and their `log` records,
//! come out the same way). Takes a level and a message; gives `audex: message`
//! (text, for people at a terminal; a dependency's line names its target) or
//! one JSON object per line, `{"ts":1795789579.451,"level":"warn","msg":"..."}`
//! (for a log pipeline; `audex run` defaults to it; a dependency's line adds
//! `target` and its fields). Which lines: `info` and up for audex, `warn` and
//! up for dependencies, unless `AUDEX_LOG` (an `EnvFilter` directive such as
//! `debug` or `info,kube=debug`) or a level given to [`init`] says otherwise.
//! Log messages describe the collector, never event contents; control
//! characters in them are escaped, so quoted receiver text cannot forge a line.
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

#[doc(hidden)]
pub use tracing as __tracing;

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// The filter when neither `AUDEX_LOG` nor a level says otherwise.
const DEFAULT: &str = "info,hyper=warn,hyper_util=warn,h2=warn,tower=warn,tonic=warn,kube=warn,kube_client=warn,kube_runtime=warn,rustls=warn";

/// Installs the process's subscriber (once; later calls change nothing).
/// `level` (e.g. from `--log-level`) replaces the default level of every
/// target; `AUDEX_LOG` wins over both. A bad `AUDEX_LOG` is said, and the
/// default used.
pub fn init(format: Format, level: Option<&str>) {
    let base = match level {
        Some(l) => l.to_string(),
        None => DEFAULT.to_string(),
    };
    let mut bad = None;
    let filter = match std::env::var("AUDEX_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v).unwrap_or_else(|e| {
            bad = Some(format!(
                "AUDEX_LOG={v:?} is not a filter ({e}); using {base}"
            ));
            EnvFilter::new(&base)
        }),
        _ => EnvFilter::try_new(&base).unwrap_or_else(|_| EnvFilter::new(DEFAULT)),
    };
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(Lines(format))
        .try_init()
        .is_ok();
    if installed {
        if let Some(why) = bad {
            warn!("{why}");
        }
    }
}

/// The line format of [`Format`].
struct Lines(Format);

/// An event's message and other fields.
#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.rest.push((field.name(), format!("{value:?}")));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.rest.push((field.name(), value.to_string()));
        }
    }
}

fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        let meta = event.metadata();
        let ours = meta.target().starts_with("audex");
        let msg = audex_io::escape(&f.message);
        match self.0 {
            Format::Text => {
                write!(w, "audex: ")?;
                if !ours {
                    write!(w, "[{}] ", meta.target())?;
                }
                write!(w, "{msg}")?;
                for (k, v) in &f.rest {
                    write!(w, " {k}={}", audex_io::escape(v))?;
                }
                writeln!(w)
            }
            Format::Json => {
                let ts = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                // ts, level, msg first, in that order; then a dependency's
                // target and fields.
                let q = |v: &str| serde_json::Value::from(v).to_string();
                write!(
                    w,
                    "{{\"ts\":{}.{:03},\"level\":\"{}\",\"msg\":{}",
                    ts.as_secs(),
                    ts.subsec_millis(),
                    level_name(meta.level()),
                    q(&msg)
                )?;
                if !ours {
                    write!(w, ",\"target\":{}", q(meta.target()))?;
                }
                for (k, v) in &f.rest {
                    write!(w, ",{}:{}", q(k), q(&audex_io::escape(v)))?;
                }
                writeln!(w, "}}")
            }
        }
    }
}

#[macro_export]
macro_rules! debug {
    ($($t:tt)*) => { $crate::__tracing::debug!(target: "audex", "{}", format_args!($($t)*)) };
}

#[macro_export]
macro_rules! info {
    ($($t:tt)*) => { $crate::__tracing::info!(target: "audex", "{}", format_args!($($t)*)) };
}

#[macro_export]
macro_rules! warn {
    ($($t:tt)*) => { $crate::__tracing::warn!(target: "audex", "{}", format_args!($($t)*)) };
}

#[macro_export]
macro_rules! error {
    ($($t:tt)*) => { $crate::__tracing::error!(target: "audex", "{}", format_args!($($t)*)) };
}
