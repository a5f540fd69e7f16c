//! The one-line human summary used as the OTLP body and by `audex watch`.
use audex_proto::v1::AuditEvent;
use audex_proto::Action;
use std::fmt::Write;

/// `rm[2283] root (login alice) deleted /srv/www/index.html`.
pub fn describe(ev: &AuditEvent) -> String {
    let mut s = String::with_capacity(96);
    describe_into(ev, &mut s);
    s
}

/// [`describe`] into a reused buffer (cleared first).
pub fn describe_into(ev: &AuditEvent, s: &mut String) {
    s.clear();
    if let Some(l) = &ev.lost {
        let _ = write!(
            s,
            "{} audit records lost (serials {}-{})",
            l.count, l.first_serial, l.last_serial
        );
        return;
    }
    let p = ev.process.as_ref();
    let prog = p
        .map(|p| {
            if !p.comm.is_empty() {
                p.comm.as_str()
            } else {
                p.exe.rsplit('/').next().unwrap_or("")
            }
        })
        .unwrap_or("");
    if !prog.is_empty() {
        s.push_str(prog);
    }
    if let Some(pid) = p.and_then(|p| p.pid) {
        let _ = write!(s, "[{pid}]");
    }
    if let Some(a) = &ev.actor {
        let who = name_or_id(&a.uid_name, a.uid);
        if !who.is_empty() {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&who);
        }
        if a.auid.is_some() && a.auid != a.uid {
            let _ = write!(s, " (login {})", name_or_id(&a.auid_name, a.auid));
        }
    }
    if !s.is_empty() {
        s.push(' ');
    }
    s.push_str(if ev.action.is_empty() {
        "other"
    } else {
        &ev.action
    });
    let paths: Vec<&str> = ev
        .files
        .iter()
        .filter(|f| f.nametype != "PARENT" && !f.path.is_empty())
        .map(|f| f.path.as_str())
        .collect();
    if ev.is(Action::Renamed) && paths.len() >= 2 {
        let _ = write!(s, " {} -> {}", paths[0], paths[paths.len() - 1]);
    } else if let Some(path) = paths.first() {
        let _ = write!(s, " {path}");
    } else if let Some(n) = &ev.network {
        if !n.address.is_empty() {
            let _ = write!(s, " {}:{}", n.address, n.port.unwrap_or(0));
        } else if !n.path.is_empty() {
            let _ = write!(s, " {}", n.path);
        }
    } else if ev.is(Action::Executed) || ev.is(Action::RanCommand) {
        if let Some(p) = p.filter(|p| !p.command_line.is_empty()) {
            let _ = write!(s, " {}", p.command_line);
        }
    } else if let Some(acct) = ev.data.get("acct") {
        let _ = write!(s, " {acct}");
    }
    if ev.failed() {
        match ev.syscall.as_ref().filter(|c| !c.errno.is_empty()) {
            Some(c) => {
                let _ = write!(s, " (failed: {})", c.errno);
            }
            None => s.push_str(" (failed)"),
        }
    }
}

fn name_or_id(name: &str, id: Option<u32>) -> String {
    if !name.is_empty() {
        name.to_string()
    } else {
        id.map(|i| i.to_string()).unwrap_or_default()
    }
}
