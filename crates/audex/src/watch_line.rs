//! `watch`'s readable line for an event: what was done to which path and
//! how it ended, then who: pid, parent pid and program, the user and login
//! user, the command line (PROCTITLE, else argv; shortened), the parent
//! program, and for a session server (smbd, sshd) the client address it
//! serves. An open says its access: `write`, `write,truncate` for O_TRUNC
//! (the blanked web page). A field the event lacks (redacted for another
//! user's process) is left out. Terminal escapes in names are made safe.
use audex_proto::v1::AuditEvent;
use std::fmt::Write as _;

/// The command line shown at most, in characters (the middle is cut).
const MAX_COMMAND: usize = 80;

/// One readable line.
pub fn line(ev: &AuditEvent) -> String {
    let t = ev.time.as_ref().map(|t| {
        let s = t.seconds.rem_euclid(86400);
        format!(
            "{:02}:{:02}:{:02}.{:03}Z",
            s / 3600,
            s % 3600 / 60,
            s % 60,
            t.nanos / 1_000_000
        )
    });
    let mut s = format!("{} {:<18}", t.unwrap_or_default(), ev.action);
    if let Some(l) = &ev.lost {
        let _ = write!(s, " {} records lost ({})", l.count, l.source);
        return s;
    }
    if let Some(x) = &ev.suppressed {
        let _ = write!(s, " {} events not shown ({})", x.count, x.reason);
        return s;
    }
    s.push(' ');
    s.push_str(&safe(&paths(ev)));
    if let Some(a) = access(ev) {
        let _ = write!(s, "  {a}");
    }
    let _ = write!(s, "  {}", ev.outcome);
    if let Some(e) = ev.syscall.as_ref().filter(|c| !c.errno.is_empty()) {
        let _ = write!(s, " ({})", e.errno);
    }
    who(ev, &mut s);
    s
}

/// The event's objects (PARENT records left out); `a -> b` for a rename.
fn paths(ev: &AuditEvent) -> String {
    let paths: Vec<&str> = ev
        .files
        .iter()
        .filter(|f| f.nametype != "PARENT")
        .map(|f| f.path.as_str())
        .collect();
    if ev.is(audex_proto::Action::Renamed) && paths.len() >= 2 {
        format!("{} -> {}", paths[0], paths[paths.len() - 1])
    } else {
        paths.first().copied().unwrap_or("-").to_string()
    }
}

/// An open's access, with `truncate` when it asked for O_TRUNC.
fn access(ev: &AuditEvent) -> Option<String> {
    if ev.access.is_empty() {
        return None;
    }
    let trunc = ev
        .syscall
        .as_ref()
        .and_then(audex_normalize::open_flags)
        .is_some_and(|f| f & audex_normalize::O_TRUNC != 0);
    Some(if trunc {
        format!("{},truncate", ev.access)
    } else {
        ev.access.clone()
    })
}

/// Process, user, command line, parent, session peer: what the event has.
fn who(ev: &AuditEvent, s: &mut String) {
    if let Some(p) = &ev.process {
        let _ = write!(
            s,
            "  pid={} ppid={} {}",
            p.pid.map_or("?".into(), |v| v.to_string()),
            p.ppid.map_or("?".into(), |v| v.to_string()),
            safe(if p.exe.is_empty() { &p.comm } else { &p.exe })
        );
    }
    let acting = ev.actor.as_ref().map(|a| {
        let name = |name: &str, id: Option<u32>| {
            if name.is_empty() {
                id.map_or("?".into(), |i| i.to_string())
            } else {
                safe(name)
            }
        };
        let user = name(&a.uid_name, a.uid);
        let _ = write!(s, "  user={user}");
        if a.auid.is_some() {
            let _ = write!(s, " login={}", name(&a.auid_name, a.auid));
        }
        user
    });
    let Some(p) = &ev.process else {
        return;
    };
    let cmd = if p.title.is_empty() {
        &p.command_line
    } else {
        &p.title
    };
    if !cmd.is_empty() {
        let _ = write!(s, "  cmd=\"{}\"", safe(&shorten(cmd, MAX_COMMAND)));
    }
    if let Some(parent) = p.parent.as_ref() {
        let exe = if parent.exe.is_empty() {
            &parent.comm
        } else {
            &parent.exe
        };
        if !exe.is_empty() {
            let _ = write!(s, "  parent={}", safe(exe));
        }
    }
    if let Some(peer) = p.peer.as_ref().filter(|x| !x.address.is_empty()) {
        let _ = write!(
            s,
            "  for {} from {}",
            acting.as_deref().unwrap_or("?"),
            safe(&peer.address)
        );
        if let Some(port) = peer.port {
            let _ = write!(s, ":{port}");
        }
    }
}

/// `text` within `max` characters, its middle cut to `…`.
fn shorten(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let keep = max - 1;
    let head: String = text.chars().take(keep - keep / 3).collect();
    let tail: String = text.chars().skip(n - keep / 3).collect();
    format!("{head}…{tail}")
}

/// Text safe for a terminal (what a process named itself is attacker's text).
fn safe(text: &str) -> String {
    audex_io::escape(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use audex_proto::v1::{Actor, File, Parent, Peer, Process, Syscall};

    fn blanked_page() -> AuditEvent {
        AuditEvent {
            action: "opened".into(),
            outcome: "success".into(),
            access: "write".into(),
            syscall: Some(Syscall {
                name: "openat".into(),
                args: vec!["ffffff9c".into(), "7ffd".into(), "241".into(), "1b6".into()],
                ..Default::default()
            }),
            files: vec![File {
                path: "/srv/www/index.html".into(),
                nametype: "NORMAL".into(),
                ..Default::default()
            }],
            actor: Some(Actor {
                uid: Some(1002),
                uid_name: "bob".into(),
                auid: Some(1002),
                auid_name: "bob".into(),
                ..Default::default()
            }),
            process: Some(Process {
                pid: Some(4242),
                ppid: Some(4200),
                exe: "/usr/sbin/smbd".into(),
                title: "smbd: client [10.0.0.5]".into(),
                parent: Some(Parent {
                    exe: "/usr/sbin/smbd".into(),
                    ..Default::default()
                }),
                peer: Some(Peer {
                    address: "10.0.0.5".into(),
                    port: Some(51234),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_truncating_write_by_a_session_server_says_who_and_from_where() {
        let l = line(&blanked_page());
        for part in [
            "/srv/www/index.html",
            "write,truncate",
            "pid=4242 ppid=4200 /usr/sbin/smbd",
            "user=bob login=bob",
            "cmd=\"smbd: client [10.0.0.5]\"",
            "parent=/usr/sbin/smbd",
            "for bob from 10.0.0.5:51234",
        ] {
            assert!(l.contains(part), "{part:?} in {l}");
        }
        // O_WRONLY|O_CREAT without O_TRUNC (0x41): write only.
        let mut ev = blanked_page();
        ev.syscall.as_mut().unwrap().args[2] = "41".into();
        assert!(line(&ev).contains("  write  success"), "{}", line(&ev));
    }

    #[test]
    fn a_redacted_event_shows_what_happened_only_and_long_commands_are_cut() {
        let ev = audex_policy::local_view::others_view(&blanked_page());
        let l = line(&ev);
        assert!(
            l.contains("/srv/www/index.html") && l.contains("success"),
            "{l}"
        );
        assert!(
            !l.contains("pid=") && !l.contains("bob") && !l.contains("smbd"),
            "{l}"
        );
        let long = "x".repeat(300);
        let cut = shorten(&long, MAX_COMMAND);
        assert_eq!(cut.chars().count(), MAX_COMMAND);
        assert!(cut.contains('…'));
    }
}
