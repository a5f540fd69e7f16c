//! The event contract's field paths (`process.args`, `files[].path`, ...) as
//! places in an [`AuditEvent`]: which exist, which hold text, and visiting or
//! clearing them.
use audex_proto::v1::AuditEvent;

/// What a path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text (or a list or map of text): can be dropped, hashed and masked.
    Text,
    /// A number or a whole part of the event: can only be dropped.
    Other,
}

const TEXT: &[&str] = &[
    "id",
    "node",
    "category",
    "action",
    "outcome",
    "access",
    "record_type",
    "keys",
    "syscall.name",
    "syscall.arch",
    "syscall.errno",
    "syscall.args",
    "actor.tty",
    "actor.auid_name",
    "actor.uid_name",
    "actor.euid_name",
    "actor.suid_name",
    "actor.fsuid_name",
    "actor.gid_name",
    "actor.egid_name",
    "actor.sgid_name",
    "actor.fsgid_name",
    "process.exe",
    "process.comm",
    "process.cwd",
    "process.args",
    "process.command_line",
    "process.title",
    "process.label",
    "process.parent.exe",
    "process.parent.comm",
    "process.parent.args",
    "process.peer.address",
    "files.path",
    "files.name",
    "files.nametype",
    "files.dev",
    "files.mode",
    "files.ouid_name",
    "files.ogid_name",
    "files.label",
    "network.family",
    "network.address",
    "network.path",
    "container.id",
    "container.runtime",
    "k8s.namespace",
    "k8s.pod",
    "k8s.pod_uid",
    "k8s.container",
    "k8s.node",
    "k8s.labels",
    "data",
    "records",
];

const OTHER: &[&str] = &[
    "serial",
    "time",
    "syscall",
    "syscall.number",
    "syscall.exit",
    "actor",
    "actor.auid",
    "actor.uid",
    "actor.euid",
    "actor.suid",
    "actor.fsuid",
    "actor.gid",
    "actor.egid",
    "actor.sgid",
    "actor.fsgid",
    "actor.session",
    "process",
    "process.pid",
    "process.ppid",
    "process.parent",
    "process.peer",
    "process.peer.port",
    "files",
    "files.inode",
    "files.ouid",
    "files.ogid",
    "network",
    "network.port",
    "container",
    "k8s",
    "lost",
];

/// The contract's paths a glob (`actor.*_name`) names: text paths only when
/// `text_only` (hash, mask), every path for drop.
pub fn matching(pattern: &str, text_only: bool) -> Vec<String> {
    let pattern = canonical(pattern);
    TEXT.iter()
        .chain(if text_only { &[][..] } else { OTHER })
        .filter(|p| crate::glob(&pattern, p))
        .map(|p| p.to_string())
        .collect()
}

/// `files[].path` and `files.path` are the same path.
pub fn canonical(path: &str) -> std::borrow::Cow<'_, str> {
    if path.contains("[]") {
        path.replace("[]", "").into()
    } else {
        path.into()
    }
}

/// What `path` holds, or None when the contract has no such path. `data.KEY`
/// names one entry of `data`.
pub fn kind(path: &str) -> Option<Kind> {
    let p = canonical(path);
    if TEXT.contains(&&*p) || p.strip_prefix("data.").is_some_and(|k| !k.is_empty()) {
        Some(Kind::Text)
    } else if OTHER.contains(&&*p) {
        Some(Kind::Other)
    } else {
        None
    }
}

fn each(v: &mut [String], f: &mut dyn FnMut(&mut String) -> bool) -> bool {
    let mut changed = false;
    for s in v {
        changed |= f(s);
    }
    changed
}

/// Calls `f` on every non-empty text at `path`; true when `f` changed any.
pub fn visit_text(ev: &mut AuditEvent, path: &str, f: &mut dyn FnMut(&mut String) -> bool) -> bool {
    let p = canonical(path);
    let mut one = |s: &mut String| !s.is_empty() && f(s);
    let p: &str = &p;
    macro_rules! sub {
        ($opt:expr, $field:ident) => {
            $opt.as_mut().is_some_and(|x| one(&mut x.$field))
        };
    }
    match p {
        "id" => one(&mut ev.id),
        "node" => one(&mut ev.node),
        "category" => one(&mut ev.category),
        "action" => one(&mut ev.action),
        "outcome" => one(&mut ev.outcome),
        "access" => one(&mut ev.access),
        "record_type" => one(&mut ev.record_type),
        "keys" => each(&mut ev.keys, &mut one),
        "syscall.name" => sub!(ev.syscall, name),
        "syscall.arch" => sub!(ev.syscall, arch),
        "syscall.errno" => sub!(ev.syscall, errno),
        "syscall.args" => ev
            .syscall
            .as_mut()
            .is_some_and(|s| each(&mut s.args, &mut one)),
        "actor.tty" => sub!(ev.actor, tty),
        "actor.auid_name" => sub!(ev.actor, auid_name),
        "actor.uid_name" => sub!(ev.actor, uid_name),
        "actor.euid_name" => sub!(ev.actor, euid_name),
        "actor.suid_name" => sub!(ev.actor, suid_name),
        "actor.fsuid_name" => sub!(ev.actor, fsuid_name),
        "actor.gid_name" => sub!(ev.actor, gid_name),
        "actor.egid_name" => sub!(ev.actor, egid_name),
        "actor.sgid_name" => sub!(ev.actor, sgid_name),
        "actor.fsgid_name" => sub!(ev.actor, fsgid_name),
        "process.exe" => sub!(ev.process, exe),
        "process.comm" => sub!(ev.process, comm),
        "process.cwd" => sub!(ev.process, cwd),
        "process.args" => ev
            .process
            .as_mut()
            .is_some_and(|x| each(&mut x.args, &mut one)),
        "process.command_line" => sub!(ev.process, command_line),
        "process.title" => sub!(ev.process, title),
        "process.label" => sub!(ev.process, label),
        "process.parent.exe" => ev.process.as_mut().is_some_and(|x| sub!(x.parent, exe)),
        "process.parent.comm" => ev.process.as_mut().is_some_and(|x| sub!(x.parent, comm)),
        "process.parent.args" => ev
            .process
            .as_mut()
            .and_then(|x| x.parent.as_mut())
            .is_some_and(|x| each(&mut x.args, &mut one)),
        "process.peer.address" => ev.process.as_mut().is_some_and(|x| sub!(x.peer, address)),
        "files.path" | "files.name" | "files.nametype" | "files.dev" | "files.mode"
        | "files.ouid_name" | "files.ogid_name" | "files.label" => {
            let mut changed = false;
            for fl in &mut ev.files {
                changed |= one(match &p[6..] {
                    "path" => &mut fl.path,
                    "name" => &mut fl.name,
                    "nametype" => &mut fl.nametype,
                    "dev" => &mut fl.dev,
                    "mode" => &mut fl.mode,
                    "ouid_name" => &mut fl.ouid_name,
                    "ogid_name" => &mut fl.ogid_name,
                    _ => &mut fl.label,
                });
            }
            changed
        }
        "network.family" => sub!(ev.network, family),
        "network.address" => sub!(ev.network, address),
        "network.path" => sub!(ev.network, path),
        "container.id" => sub!(ev.container, id),
        "container.runtime" => sub!(ev.container, runtime),
        "k8s.namespace" => sub!(ev.k8s, namespace),
        "k8s.pod" => sub!(ev.k8s, pod),
        "k8s.pod_uid" => sub!(ev.k8s, pod_uid),
        "k8s.container" => sub!(ev.k8s, container),
        "k8s.node" => sub!(ev.k8s, node),
        "k8s.labels" => ev.k8s.as_mut().is_some_and(|k| {
            let mut c = false;
            for v in k.labels.values_mut() {
                c |= one(v);
            }
            c
        }),
        "data" => {
            let mut c = false;
            for v in ev.data.values_mut() {
                c |= one(v);
            }
            c
        }
        "records" => {
            let mut c = false;
            for r in &mut ev.records {
                c |= one(&mut r.text);
            }
            c
        }
        other => match other.strip_prefix("data.") {
            Some(k) => ev.data.get_mut(k).is_some_and(one),
            None => false,
        },
    }
}

/// The list at `path` when it is a list of text (argv, keys, syscall args).
pub fn text_list<'a>(ev: &'a mut AuditEvent, path: &str) -> Option<&'a mut Vec<String>> {
    match &*canonical(path) {
        "keys" => Some(&mut ev.keys),
        "syscall.args" => ev.syscall.as_mut().map(|s| &mut s.args),
        "process.args" => ev.process.as_mut().map(|p| &mut p.args),
        "process.parent.args" => ev
            .process
            .as_mut()
            .and_then(|p| p.parent.as_mut())
            .map(|p| &mut p.args),
        _ => None,
    }
}

/// Removes what `path` holds; true when there was something.
pub fn drop(ev: &mut AuditEvent, path: &str) -> bool {
    let p = canonical(path);
    fn take<T: Default + PartialEq>(v: &mut T) -> bool {
        let had = *v != T::default();
        *v = T::default();
        had
    }
    macro_rules! sub {
        ($opt:expr, $field:ident) => {
            $opt.as_mut().is_some_and(|x| take(&mut x.$field))
        };
    }
    match &*p {
        "serial" => take(&mut ev.serial),
        "time" => take(&mut ev.time),
        "syscall" => take(&mut ev.syscall),
        "syscall.number" => sub!(ev.syscall, number),
        "syscall.exit" => sub!(ev.syscall, exit),
        "actor" => take(&mut ev.actor),
        "actor.auid" => sub!(ev.actor, auid),
        "actor.uid" => sub!(ev.actor, uid),
        "actor.euid" => sub!(ev.actor, euid),
        "actor.suid" => sub!(ev.actor, suid),
        "actor.fsuid" => sub!(ev.actor, fsuid),
        "actor.gid" => sub!(ev.actor, gid),
        "actor.egid" => sub!(ev.actor, egid),
        "actor.sgid" => sub!(ev.actor, sgid),
        "actor.fsgid" => sub!(ev.actor, fsgid),
        "actor.session" => sub!(ev.actor, session),
        "process" => take(&mut ev.process),
        "process.pid" => sub!(ev.process, pid),
        "process.ppid" => sub!(ev.process, ppid),
        "process.parent" => sub!(ev.process, parent),
        "process.peer" => sub!(ev.process, peer),
        "process.peer.port" => ev.process.as_mut().is_some_and(|x| sub!(x.peer, port)),
        "files" => take(&mut ev.files),
        "files.inode" | "files.ouid" | "files.ogid" => {
            let mut c = false;
            for f in &mut ev.files {
                c |= match &p[6..] {
                    "inode" => take(&mut f.inode),
                    "ouid" => take(&mut f.ouid),
                    _ => take(&mut f.ogid),
                };
            }
            c
        }
        "network" => take(&mut ev.network),
        "network.port" => sub!(ev.network, port),
        "container" => take(&mut ev.container),
        "k8s" => take(&mut ev.k8s),
        "lost" => take(&mut ev.lost),
        "data" => take(&mut ev.data),
        "records" => take(&mut ev.records),
        "keys" => take(&mut ev.keys),
        "syscall.args" => sub!(ev.syscall, args),
        "process.args" => sub!(ev.process, args),
        "process.parent.args" => ev.process.as_mut().is_some_and(|x| sub!(x.parent, args)),
        "k8s.labels" => sub!(ev.k8s, labels),
        other => match other.strip_prefix("data.") {
            Some(k) => ev.data.remove(k).is_some(),
            // Any other text: emptied (absent, in the JSON).
            None => visit_text(ev, other, &mut |s| {
                s.clear();
                true
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_path_is_reachable_and_unknown_ones_are_not() {
        for p in TEXT.iter().chain(OTHER) {
            assert!(kind(p).is_some(), "{p}");
        }
        assert_eq!(kind("files[].path"), Some(Kind::Text));
        assert_eq!(kind("data.cmd"), Some(Kind::Text));
        assert_eq!(kind("process.pid"), Some(Kind::Other));
        assert_eq!(kind("process.argz"), None);
    }
}
