//! `audex watch` without privilege: the same lines (or JSON) as the
//! privileged watch, from a running `audex run` through its local socket.
//! Sends one request (the paths made absolute, the perm); prints the
//! daemon's answer, then each event it sends, until Ctrl-C, the last watch
//! revoked (exit 1), or the daemon stopping (exit 1, with its reason).
//! `--list` prints the user's own watches.
use crate::cli::WatchArgs;
use crate::pipeline::Shutdown;
use crate::signals;
use crate::watch::{emit, flush_out, terminal_out};
use anyhow::{anyhow, Result};
use audex::local::protocol::{parse, Message, Reply, Request};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// A line from the daemon is at most this long (an event with its records).
const MAX_LINE: usize = 16 << 20;

pub fn run(args: &WatchArgs, socket: &Path) -> Result<ExitCode> {
    let cwd = std::env::current_dir()?;
    let paths: Vec<PathBuf> = args.paths.iter().map(|p| cwd.join(p)).collect();
    let mut conn = UnixStream::connect(socket).map_err(|e| {
        anyhow!(
            "cannot reach the audex daemon at {}: {e} (watching without CAP_AUDIT_CONTROL needs `audex run` with a `local:` section)",
            socket.display()
        )
    })?;
    let req = if args.list {
        Request::List {}
    } else {
        Request::Watch {
            paths,
            perm: args.perm.clone(),
        }
    };
    let mut line = serde_json::to_vec(&req)?;
    line.push(b'\n');
    conn.write_all(&line)?;
    conn.set_read_timeout(Some(Duration::from_millis(200)))?;
    let shutdown = Shutdown::new();
    signals::install(&shutdown);
    let mut lines = Lines {
        r: BufReader::new(conn),
        buf: Vec::new(),
    };
    let watched = match lines.next(&shutdown)? {
        Next::Line(Message::Reply(Reply::Watching { paths, admin })) => {
            eprintln!(
                "audex: watching {} (through the daemon at {}{}); Ctrl-C to stop",
                paths.join(", "),
                socket.display(),
                if admin { ", as an admin" } else { "" }
            );
            paths.len()
        }
        Next::Line(Message::Reply(Reply::Subscriptions { watches })) => {
            for w in &watches {
                println!("{}  perm={}  pid={}", w.path, w.perm, w.pid);
            }
            return Ok(ExitCode::SUCCESS);
        }
        Next::Line(Message::Reply(Reply::Refused { reason })) => {
            eprintln!("audex: the daemon refused the watch: {reason}");
            return Ok(ExitCode::from(1));
        }
        Next::Line(other) => return Err(anyhow!("unexpected answer from the daemon: {other:?}")),
        Next::Stop => return Ok(ExitCode::SUCCESS),
        Next::Closed => {
            return Err(anyhow!(
                "the daemon closed the connection without an answer"
            ))
        }
        Next::Idle => unreachable!("next waits through idle reads"),
    };
    follow(&mut lines, watched, args.json, &shutdown)
}

/// Prints events until the watch ends; the exit code.
fn follow(
    lines: &mut Lines,
    mut watched: usize,
    json: bool,
    shutdown: &Shutdown,
) -> Result<ExitCode> {
    let mut out = terminal_out();
    let mut shown = 0u64;
    let code = loop {
        match lines.next_or_idle(shutdown)? {
            Next::Idle => flush_out(&mut *out, shutdown)?,
            Next::Line(Message::Event(ev)) => shown += emit(&mut *out, &ev, json, shutdown)?,
            Next::Line(Message::Reply(Reply::Revoked { path, reason })) => {
                flush_out(&mut *out, shutdown)?;
                eprintln!("audex: watch revoked: {path} ({reason})");
                watched = watched.saturating_sub(1);
                if watched == 0 {
                    eprintln!("audex: no watch left");
                    break ExitCode::from(1);
                }
            }
            Next::Line(Message::Reply(Reply::Stopping { reason })) => {
                flush_out(&mut *out, shutdown)?;
                eprintln!("audex: the daemon stopped ({reason}); the watch ended");
                break ExitCode::from(1);
            }
            Next::Line(Message::Reply(other)) => {
                eprintln!("audex: unexpected line from the daemon: {other:?}")
            }
            Next::Closed => {
                flush_out(&mut *out, shutdown)?;
                eprintln!("audex: the daemon closed the connection; the watch ended");
                break ExitCode::from(1);
            }
            Next::Stop => break ExitCode::SUCCESS,
        }
    };
    flush_out(&mut *out, shutdown)?;
    eprintln!("audex: stopped; {shown} events shown");
    Ok(code)
}

enum Next {
    Line(Message),
    /// Nothing within the read timeout.
    Idle,
    /// A stop was asked for (Ctrl-C, the reader of the output gone).
    Stop,
    Closed,
}

struct Lines {
    r: BufReader<UnixStream>,
    /// A line read so far (kept across read timeouts).
    buf: Vec<u8>,
}

impl Lines {
    /// The next line, waiting through idle reads.
    fn next(&mut self, shutdown: &Shutdown) -> Result<Next> {
        loop {
            match self.next_or_idle(shutdown)? {
                Next::Idle => continue,
                n => return Ok(n),
            }
        }
    }

    fn next_or_idle(&mut self, shutdown: &Shutdown) -> Result<Next> {
        if shutdown.requested() {
            return Ok(Next::Stop);
        }
        match self.r.read_until(b'\n', &mut self.buf) {
            Ok(0) => return Ok(Next::Closed),
            Ok(_) if self.buf.ends_with(b"\n") => {}
            Ok(_) => return Ok(Next::Closed),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if self.buf.len() > MAX_LINE {
                    return Err(anyhow!("a line from the daemon is over {MAX_LINE} bytes"));
                }
                return Ok(Next::Idle);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(Next::Idle),
            Err(e) => return Err(anyhow!("reading from the daemon: {e}")),
        }
        let msg = parse(&self.buf).map_err(|e| anyhow!(e));
        self.buf.clear();
        msg.map(Next::Line)
    }
}
