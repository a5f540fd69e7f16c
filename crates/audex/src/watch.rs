//! `audex watch PATH...`: who touches these paths, live, in the terminal.
//!
//! Adds one watch rule per path (a directory covers its subtree), reads the
//! kernel, and prints the events of its own rules (and any lost records) until
//! Ctrl-C or SIGTERM; then removes its rules and puts kernel audit back.
//! Without CAP_AUDIT_CONTROL (or with `--socket`), the daemon watches for it
//! ([`crate::watch_socket`]); the lines are the same ([`crate::watch_line`]).
use crate::cli::WatchArgs;
use crate::live;
use crate::pipeline::{Enriched, Shutdown, Sink};
use crate::signals;
use anyhow::{bail, Context, Result};
use audex::local::protocol::DEFAULT_SOCKET;
use audex_kernel::caps;
use audex_kernel::rules::syntax::watch_rule;
use audex_kernel::rules::RuleSet;
use audex_kernel::source::{Mode, Source, SourceConfig};
use audex_proto::v1::AuditEvent;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(args: WatchArgs) -> Result<ExitCode> {
    if let Some(socket) = daemon_socket(&args) {
        return crate::watch_socket::run(&args, &socket);
    }
    let mut paths = Vec::new();
    for p in &args.paths {
        let abs =
            std::fs::canonicalize(p).with_context(|| format!("cannot watch {}", p.display()))?;
        paths.push(abs);
    }
    if audex_kernel::rules::fields::perm_bits(&args.perm).is_none() {
        bail!("--perm {:?}: use a combination of r, w, x and a", args.perm);
    }
    let mode: Mode = args.mode.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    caps::require(&[(caps::CAP_AUDIT_CONTROL, "add watch rules")]).map_err(|e| {
        anyhow::anyhow!(
            "{e}; or watch through a running `audex run` with a `local:` section (its socket, {DEFAULT_SOCKET}, is not there)"
        )
    })?;
    let key = args
        .key
        .clone()
        .unwrap_or_else(|| format!("audex-watch-{}", std::process::id()));

    let shutdown = Shutdown::new();
    signals::install(&shutdown);
    let mut src = Source::open(&SourceConfig {
        mode,
        recv_buffer_bytes: args.recv_buffer_bytes,
        backlog_limit: args.backlog_limit,
        rate_limit: args.rate_limit,
        backlog_wait_time: args.backlog_wait_time,
        failure: args.failure,
        ..Default::default()
    })?;
    let mut rules = RuleSet::default();
    let result = watch(&mut src, &mut rules, &paths, &key, &args, &shutdown);
    // Always: remove our rules, then restore the kernel.
    for e in rules.remove_all(src.control()) {
        eprintln!("audex: removing a watch rule: {e}");
    }
    for e in src.close() {
        eprintln!("audex: {e}");
    }
    let printed = result?;
    eprintln!("audex: stopped; {printed} events shown; watch rules removed");
    Ok(ExitCode::SUCCESS)
}

/// The daemon's socket to watch through: `--socket`, or the default one when
/// this process cannot add rules itself (or lists its watches).
fn daemon_socket(args: &WatchArgs) -> Option<PathBuf> {
    if let Some(s) = &args.socket {
        return Some(s.clone());
    }
    let default = Path::new(DEFAULT_SOCKET);
    (args.list || (!caps::has(caps::CAP_AUDIT_CONTROL) && default.exists()))
        .then(|| default.to_path_buf())
}

/// The watch rules in, then the live loop to the terminal until a stop; the
/// number of events shown.
fn watch(
    src: &mut Source,
    rules: &mut RuleSet,
    paths: &[std::path::PathBuf],
    key: &str,
    args: &WatchArgs,
    shutdown: &Shutdown,
) -> Result<u64> {
    for p in paths {
        let ps = p.to_string_lossy();
        let rule = watch_rule(&ps, &args.perm, key).map_err(|e| anyhow::anyhow!("{ps}: {e}"))?;
        src.control()
            .add_rule(&rule)
            .map_err(|e| anyhow::anyhow!("adding the watch rule for {ps}: {e}"))?;
        rules.track(rule);
    }
    eprintln!(
        "audex: watching {} ({} mode, key {key}); Ctrl-C to stop",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        match src.mode {
            Mode::Multicast => "multicast",
            _ => "unicast",
        }
    );
    let out = terminal_out();
    let opts = live::LiveOptions {
        host_root: "/".into(),
        node: None,
        enrich: audex_enrich::EnrichOptions::default(),
        pods: None,
    };
    let mut terminal = Terminal {
        out,
        key: key.to_string(),
        json: args.json,
        printed: 0,
        shutdown: shutdown.clone(),
    };
    live::read_loop(src, &opts, &mut terminal, shutdown)?;
    flush_out(&mut *terminal.out, shutdown)?;
    Ok(terminal.printed)
}

/// The watch's sink: its own key's events (and loss) to the terminal, as
/// lines or JSON; flushed on every tick.
struct Terminal<'a> {
    out: Box<dyn Write + 'a>,
    key: String,
    json: bool,
    printed: u64,
    /// Requested when the reader of the output goes away.
    shutdown: Shutdown,
}

impl Sink for Terminal<'_> {
    fn send(&mut self, ev: Enriched) -> Result<()> {
        let ev = ev.event();
        if ev.lost.is_some() || ev.keys.iter().any(|k| k == &self.key) {
            self.printed += emit(&mut *self.out, ev, self.json, &self.shutdown)?;
        }
        Ok(())
    }

    fn tick(&mut self) -> Result<()> {
        flush_out(&mut *self.out, &self.shutdown)
    }
}

/// Standard output for events: a line at a time on a terminal; into a file
/// or a pipe, a write per batch (flushed on the read loop's tick): a write
/// per event was a fifth of `watch`'s CPU on the storm bench.
pub fn terminal_out() -> Box<dyn Write> {
    let stdout = std::io::stdout();
    if stdout.is_terminal() {
        Box::new(std::io::LineWriter::new(stdout.lock()))
    } else {
        Box::new(std::io::BufWriter::with_capacity(256 << 10, stdout.lock()))
    }
}

/// Flushes what `emit` wrote.
pub fn flush_out(out: &mut dyn Write, shutdown: &Shutdown) -> Result<()> {
    written(out.flush(), shutdown).map(|_| ())
}

/// One event as a line or JSON; 1 when it went out.
pub fn emit(out: &mut dyn Write, ev: &AuditEvent, json: bool, shutdown: &Shutdown) -> Result<u64> {
    let r = if json {
        let mut l = Vec::with_capacity(2048);
        audex_export::json_line(ev, &mut l).and_then(|_| out.write_all(&l))
    } else {
        writeln!(out, "{}", crate::watch_line::line(ev))
    };
    Ok(u64::from(written(r, shutdown)?))
}

/// Whether a write went out; a reader that went away (`| head`) stops the watch
/// like Ctrl-C would.
fn written(r: std::io::Result<()>, shutdown: &Shutdown) -> Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            shutdown.request();
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}
