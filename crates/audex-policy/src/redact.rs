//! One tenant's redaction: drop fields, hash them with a keyed HMAC-SHA256,
//! mask text with regexes (or built-in secret patterns), hide pids, and hold
//! back file events the tenant could not see (`visibility: dac`).
use crate::fields::{self, Kind};
use crate::matcher::Matcher;
use audex_proto::v1::AuditEvent;
use regex::{Regex, RegexSet};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The same data shows in several fields: redacting one redacts them all, so
/// a secret or a path cannot stay behind in its twin.
const ALIASES: &[&[&str]] = &[
    // A process's argv.
    &[
        "process.args",
        "process.command_line",
        "process.title",
        "process.parent.args",
        "data.cmd",
    ],
    // A file's path and the name the kernel logged (often the same path).
    &["files.path", "files.name"],
    // A user's name, whichever id names it: the same person is the login,
    // real, effective and file-system user, a file's owner, a PAM account.
    &[
        "actor.auid_name",
        "actor.uid_name",
        "actor.euid_name",
        "actor.suid_name",
        "actor.fsuid_name",
        "files.ouid_name",
        "data.acct",
    ],
    &[
        "actor.gid_name",
        "actor.egid_name",
        "actor.sgid_name",
        "actor.fsgid_name",
        "files.ogid_name",
    ],
    // The working directory, as the process and as its CWD record.
    &["process.cwd", "data.cwd"],
];

/// Text fields that may hold a copy of a hashed value (whole, or as a word of a
/// path or command line); enumerations (category, action, syscall names...) are
/// left alone.
const COPIES: &[&str] = &[
    "actor.auid_name",
    "actor.uid_name",
    "actor.euid_name",
    "actor.suid_name",
    "actor.fsuid_name",
    "actor.gid_name",
    "actor.egid_name",
    "actor.sgid_name",
    "actor.fsgid_name",
    "actor.tty",
    "keys",
    "process.exe",
    "process.cwd",
    "process.args",
    "process.command_line",
    "process.title",
    "process.parent.exe",
    "process.parent.args",
    "files.path",
    "files.name",
    "files.ouid_name",
    "files.ogid_name",
    "network.path",
    "data",
];

/// `data` keys (their last `.` part) that hold a process id, dropped with the pid.
fn is_pid_key(k: &str) -> bool {
    matches!(
        k.rsplit('.').next().unwrap_or(k),
        "pid" | "ppid" | "opid" | "audit_pid"
    )
}

/// `data` keys (their last `.` part) that hold a user or group id.
fn is_id_key(k: &str) -> bool {
    matches!(
        k.rsplit('.').next().unwrap_or(k),
        "auid"
            | "uid"
            | "euid"
            | "suid"
            | "fsuid"
            | "gid"
            | "egid"
            | "sgid"
            | "fsgid"
            | "ouid"
            | "ogid"
            | "oauid"
            | "old-auid"
            | "old_auid"
            | "id"
            | "frootid"
    )
}

/// Replaces the whole-word copies of `values` in the [`COPIES`] fields; `note`
/// hears of each field changed.
fn replace_copies(ev: &mut AuditEvent, values: &[(String, String)], note: &mut dyn FnMut(&str)) {
    if values.is_empty() {
        return;
    }
    for p in COPIES {
        if fields::visit_text(ev, p, &mut |s| match replace_words(s, values) {
            Some(new) => {
                *s = new;
                true
            }
            None => false,
        }) {
            note(p);
        }
    }
}

/// Replaces each whole-word occurrence of a value (not inside a longer name)
/// with its pseudonym, in one pass; None when nothing matched.
fn replace_words(s: &str, values: &[(String, String)]) -> Option<String> {
    // Most fields hold no copy: one substring search per value first.
    if !values.iter().any(|(v, _)| s.contains(v.as_str())) {
        return None;
    }
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut at = 0;
    let mut i = 0;
    let mut changed = false;
    while i < s.len() {
        let hit = values.iter().find(|(v, _)| {
            s[i..].starts_with(v.as_str())
                && !s[..i].chars().next_back().is_some_and(word)
                && !s[i + v.len()..].chars().next().is_some_and(word)
        });
        match hit {
            Some((v, p)) => {
                out.push_str(&s[at..i]);
                out.push_str(p);
                i += v.len();
                at = i;
                changed = true;
            }
            None => i += s[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    changed.then(|| {
        out.push_str(&s[at..]);
        out
    })
}

/// `path` and its twins, canonical.
fn with_aliases(path: &str) -> Vec<String> {
    let p = fields::canonical(path);
    match ALIASES.iter().find(|g| g.contains(&&*p)) {
        Some(g) => g.iter().map(|s| s.to_string()).collect(),
        None => vec![p.into_owned()],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PidPolicy {
    #[default]
    Always,
    /// Only when the process's uid (or its pod's namespace) belongs to the tenant.
    SameOwner,
    Never,
}

/// An HMAC-SHA256 key. Never printed. Remembers recent pseudonyms (user names
/// and paths repeat): a lookup costs less than an HMAC.
#[derive(Clone)]
pub struct HashKey(ring::hmac::Key, Arc<Mutex<HashMap<String, String>>>);

const MEMO: usize = 4096;

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashKey(..)")
    }
}

impl HashKey {
    pub fn new(bytes: &[u8]) -> HashKey {
        HashKey(
            ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes),
            Arc::default(),
        )
    }

    /// [`pseudonym`](HashKey::pseudonym), remembered.
    pub fn pseudonym_cached(&self, value: &str) -> String {
        let mut memo = self.1.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = memo.get(value) {
            return p.clone();
        }
        let p = self.pseudonym(value);
        if memo.len() >= MEMO {
            memo.clear();
        }
        memo.insert(value.to_string(), p.clone());
        p
    }

    /// A numeric id's pseudonym: 2^31 + the HMAC's first 31 bits (outside the
    /// ranges systems hand out, never `unset`), stable for a key.
    pub fn pseudonym_id(&self, id: u32) -> u32 {
        let tag = ring::hmac::sign(&self.0, format!("id:{id}").as_bytes());
        let b = tag.as_ref();
        let v = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) | 0x8000_0000;
        if v == u32::MAX {
            u32::MAX - 1
        } else {
            v
        }
    }

    /// `hmac:` and the first 16 bytes of HMAC-SHA256(key, value), in hex:
    /// stable for a key, comparable, not reversible.
    pub fn pseudonym(&self, value: &str) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let tag = ring::hmac::sign(&self.0, value.as_bytes());
        let mut s = String::with_capacity(37);
        s.push_str("hmac:");
        for b in &tag.as_ref()[..16] {
            s.push(HEX[usize::from(b >> 4)] as char);
            s.push(HEX[usize::from(b & 15)] as char);
        }
        s
    }
}

/// A mask as configured: a field and either a pattern (with its replacement)
/// or a built-in name (`passwords`, `tokens`, `bearer`, `aws-keys`,
/// `private-keys`, `secrets`).
#[derive(Debug, Clone, Default)]
pub struct MaskSpec {
    pub field: String,
    pub pattern: Option<String>,
    pub replace: String,
    pub builtin: Option<String>,
}

/// A tenant's redaction as configured.
#[derive(Debug, Clone, Default)]
pub struct RedactSpec {
    pub drop: Vec<String>,
    pub hash: Vec<String>,
    pub hash_key: Option<HashKey>,
    pub mask: Vec<MaskSpec>,
    pub pid: PidPolicy,
    pub visibility_dac: bool,
    /// Pseudonymise the numeric user and group ids too (with the hash key).
    pub hash_ids: bool,
}

/// One configured mask: its fields, and its patterns (one, or a built-in set)
/// behind a RegexSet, so that text with no match costs one scan.
#[derive(Debug, Clone)]
struct Mask {
    fields: Vec<String>,
    set: RegexSet,
    rules: Vec<(Regex, String)>,
    /// A built-in mask: secrets are secrets in every `data` value too.
    builtin: bool,
}

/// A compiled redaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redaction {
    drop: Vec<String>,
    hash: Vec<String>,
    key: Option<HashKey>,
    masks: Vec<Mask>,
    pid: PidPolicy,
    dac: bool,
    hash_ids: bool,
}

impl Redaction {
    pub(crate) fn compile(spec: &RedactSpec, matcher: &Matcher) -> Result<Redaction, String> {
        let check = |p: &str, text_only: bool| -> Result<(), String> {
            match fields::kind(p) {
                None => Err(format!("`{p}` is not a field of the event contract")),
                Some(Kind::Other) if text_only => Err(format!(
                    "`{p}` holds no text: it can be dropped, not hashed or masked"
                )),
                Some(_) => Ok(()),
            }
        };
        let expand = |paths: &[String], text_only: bool| -> Result<Vec<String>, String> {
            let mut out: Vec<String> = Vec::new();
            for p in paths {
                let matched = if p.contains('*') {
                    let m = fields::matching(p, text_only);
                    if m.is_empty() {
                        return Err(format!("`{p}` matches no field of the event contract"));
                    }
                    m
                } else {
                    check(p, text_only)?;
                    vec![p.clone()]
                };
                for p in matched {
                    for a in with_aliases(&p) {
                        if !out.contains(&a) {
                            out.push(a);
                        }
                    }
                }
            }
            Ok(out)
        };
        let drop = expand(&spec.drop, false)?;
        let hash = expand(&spec.hash, true)?;
        if (!hash.is_empty() || spec.hash_ids) && spec.hash_key.is_none() {
            return Err("`hash` (or `hash_ids`) needs a `hash_key_file`".into());
        }
        let mut masks = Vec::new();
        for m in &spec.mask {
            check(&m.field, true)?;
            let fields = with_aliases(&m.field);
            let pairs: Vec<(String, String)> = match (&m.pattern, &m.builtin) {
                (Some(p), None) => vec![(p.clone(), m.replace.clone())],
                (None, Some(b)) => crate::secrets::patterns(b)
                    .ok_or_else(|| {
                        format!(
                            "no built-in mask `{b}`; there are {}",
                            crate::secrets::names().join(", ")
                        )
                    })?
                    .into_iter()
                    .map(|(p, r)| (p.to_string(), r.to_string()))
                    .collect(),
                _ => {
                    return Err(format!(
                        "mask of `{}`: give a `pattern` or a `builtin`",
                        m.field
                    ))
                }
            };
            let mut rules = Vec::new();
            for (p, r) in &pairs {
                let re = Regex::new(p).map_err(|e| format!("mask pattern `{p}`: {e}"))?;
                rules.push((re, r.clone()));
            }
            let set = RegexSet::new(pairs.iter().map(|(p, _)| p))
                .map_err(|e| format!("mask of `{}`: {e}", m.field))?;
            masks.push(Mask {
                fields,
                set,
                rules,
                builtin: m.builtin.is_some(),
            });
        }
        if spec.visibility_dac && matcher.uids.is_empty() {
            return Err("`visibility: dac` needs the tenant's uids (`match.uids`)".into());
        }
        Ok(Redaction {
            drop,
            hash,
            key: spec.hash_key.clone(),
            masks,
            pid: spec.pid,
            dac: spec.visibility_dac,
            hash_ids: spec.hash_ids,
        })
    }

    /// Changes anything at all (raw records are then dropped: they would repeat
    /// what was removed).
    fn active(&self) -> bool {
        !self.drop.is_empty()
            || !self.hash.is_empty()
            || !self.masks.is_empty()
            || self.pid != PidPolicy::Always
            || self.hash_ids
    }

    /// Redacts `ev` for the tenant of `matcher`; false when the tenant must not
    /// see it at all (visibility).
    pub(crate) fn apply(&self, ev: &mut AuditEvent, matcher: &Matcher) -> bool {
        if self.dac && !visible(ev, matcher) {
            return false;
        }
        let mut changed: Vec<String> = Vec::new();
        let mut note = |p: &str| {
            if !changed.iter().any(|c| c == p) {
                changed.push(p.to_string());
            }
        };
        for p in &self.drop {
            if fields::drop(ev, p) {
                note(p);
            }
        }
        for m in &self.masks {
            // PROCTITLE usually is the command line: masked once, copied.
            let title_is_cl = ev
                .process
                .as_ref()
                .is_some_and(|p| !p.title.is_empty() && p.title == p.command_line);
            for f in &m.fields {
                let hit = match fields::text_list(ev, f) {
                    Some(list) => mask_list(m, list),
                    None if title_is_cl && f == "process.title" => {
                        let p = ev.process.as_mut().unwrap();
                        let changed = p.title != p.command_line;
                        if changed {
                            p.title.clone_from(&p.command_line);
                        }
                        changed
                    }
                    None => fields::visit_text(ev, f, &mut |s| mask_text(m, s)),
                };
                if hit {
                    note(f);
                }
            }
            if m.builtin && fields::visit_text(ev, "data", &mut |s| mask_text(m, s)) {
                note("data");
            }
        }
        if let Some(key) = &self.key {
            // The values hashed, with their pseudonyms: their copies elsewhere
            // in the event (a path under the user's home, a command line that
            // names her) are replaced too.
            let mut hashed: Vec<(String, String)> = Vec::new();
            for p in &self.hash {
                if fields::visit_text(ev, p, &mut |s| {
                    let pseudonym = key.pseudonym_cached(s);
                    if !hashed.iter().any(|(v, _)| v == s) {
                        hashed.push((std::mem::take(s), pseudonym.clone()));
                    }
                    *s = pseudonym;
                    true
                }) {
                    note(p);
                }
            }
            hashed.retain(|(v, _)| !v.starts_with("hmac") && !v.is_empty());
            if !hashed.is_empty() {
                // Longest first: `alice2` is not `alice` followed by `2`.
                hashed.sort_by_key(|h| std::cmp::Reverse(h.0.len()));
                replace_copies(ev, &hashed, &mut note);
            }
            if self.hash_ids {
                let mut ids: Vec<(String, String)> = Vec::new();
                if hash_ids(ev, key, &mut ids) {
                    note("ids");
                }
                // A user id written out in a command line (`--reuid=4711`): the
                // ids of people (1000 and up), not the system's (`chmod 0 f`).
                ids.retain(|(v, _)| v.parse::<u32>().is_ok_and(|x| x >= 1000));
                replace_copies(ev, &ids, &mut note);
            }
        }
        let hide_pid = match self.pid {
            PidPolicy::Always => false,
            PidPolicy::Never => true,
            PidPolicy::SameOwner => !same_owner(ev, matcher),
        };
        if hide_pid {
            for p in ["process.pid", "process.ppid"] {
                if fields::drop(ev, p) {
                    note(p);
                }
            }
            let before = ev.data.len();
            ev.data.retain(|k, _| !is_pid_key(k));
            if ev.data.len() != before {
                note("data.pid");
            }
        }
        if self.active() && fields::drop(ev, "records") {
            note("records");
        }
        if !changed.is_empty() {
            ev.redacted.extend(changed);
        }
        true
    }
}

/// Replaces every user and group id of `ev` (actor, file owners, `data` ids)
/// with its numeric pseudonym; `unset` (4294967295) stays. Each id replaced
/// goes into `seen` (as text, with its pseudonym).
fn hash_ids(ev: &mut AuditEvent, key: &HashKey, seen: &mut Vec<(String, String)>) -> bool {
    let mut changed = false;
    let mut note = |x: u32, p: u32| {
        let x = x.to_string();
        if !seen.iter().any(|(v, _)| *v == x) {
            seen.push((x, p.to_string()));
        }
    };
    let mut one = |v: &mut Option<u32>| {
        if let Some(x) = v.filter(|x| *x != u32::MAX) {
            let p = key.pseudonym_id(x);
            note(x, p);
            *v = Some(p);
            changed = true;
        }
    };
    if let Some(a) = ev.actor.as_mut() {
        for v in [
            &mut a.auid,
            &mut a.uid,
            &mut a.euid,
            &mut a.suid,
            &mut a.fsuid,
            &mut a.gid,
            &mut a.egid,
            &mut a.sgid,
            &mut a.fsgid,
        ] {
            one(v);
        }
    }
    for f in &mut ev.files {
        one(&mut f.ouid);
        one(&mut f.ogid);
    }
    for (k, v) in ev.data.iter_mut() {
        if is_id_key(k) {
            if let Ok(x) = v.parse::<u32>() {
                if x != u32::MAX {
                    let p = key.pseudonym_id(x);
                    note(x, p);
                    *v = p.to_string();
                    changed = true;
                }
            }
        }
    }
    changed
}

fn replace_in(re: &Regex, rep: &str, s: &mut String) -> bool {
    match re.replace_all(s, rep) {
        std::borrow::Cow::Owned(new) if new != *s => {
            *s = new;
            true
        }
        _ => false,
    }
}

impl Mask {
    /// Whether any pattern could match (the cheap scans first).
    fn may_match(&self, s: &str) -> bool {
        self.set.is_match(s)
    }
}

fn mask_text(m: &Mask, s: &mut String) -> bool {
    // The cheap question first: most text holds no secret.
    if !m.set.is_match(s) {
        return false;
    }
    let hits = m.set.matches(s);
    let mut changed = false;
    for i in hits.iter() {
        let (re, rep) = &m.rules[i];
        changed |= replace_in(re, rep, s);
    }
    changed
}

/// Masks each element, then each element in the light of the one before it:
/// argv splits `--token SECRET` and `Bearer TOKEN` over two elements.
fn mask_list(m: &Mask, list: &mut [String]) -> bool {
    // One scan of the whole list first: most argv hold no secret.
    if !m.may_match(&list.join(" ")) {
        return false;
    }
    let mut changed = false;
    for s in list.iter_mut() {
        changed |= mask_text(m, s);
    }
    // A secret whose context is further back (mysql ... -pSECRET): each element
    // in the light of all before it (argv are short; bounded all the same).
    if list.len() <= 256 {
        let mut prefix = String::new();
        for i in 1..list.len() {
            prefix.push_str(&list[i - 1]);
            prefix.push(' ');
            let mut whole = format!("{prefix}{}", list[i]);
            if mask_text(m, &mut whole) && whole.starts_with(prefix.as_str()) {
                let rest = &whole[prefix.len()..];
                if rest != list[i] {
                    list[i] = rest.to_string();
                    changed = true;
                }
            }
        }
    }
    let mut joined = String::new();
    for i in 1..list.len() {
        joined.clear();
        joined.push_str(&list[i - 1]);
        joined.push(' ');
        joined.push_str(&list[i]);
        if !m.may_match(&joined) {
            continue;
        }
        let head = list[i - 1].len() + 1;
        if mask_text(m, &mut joined) && joined.starts_with(list[i - 1].as_str()) {
            if let Some(rest) = joined.get(head..) {
                if rest != list[i] {
                    list[i] = rest.to_string();
                    changed = true;
                }
            }
        }
    }
    changed
}

/// The process runs as one of the tenant's uids, or in one of its namespaces.
fn same_owner(ev: &AuditEvent, m: &Matcher) -> bool {
    let uid = ev.actor.as_ref().and_then(|a| a.uid);
    let ns = ev.k8s.as_ref().map_or("", |k| k.namespace.as_str());
    uid.is_some_and(|u| m.owns_uid(u))
        || (!ns.is_empty() && m.k8s_namespaces.iter().any(|g| crate::glob(g, ns)))
}

/// Whether the tenant's uids could list the directory the event's file is in
/// (the PARENT item's mode and owner), or, without a PARENT item, read the
/// object itself. Group permissions are not counted: the event does not say
/// which groups the tenant's users are in. Events without files are visible.
fn visible(ev: &AuditEvent, m: &Matcher) -> bool {
    if ev.files.is_empty() {
        return true;
    }
    if m.owns_uid(0) {
        return true;
    }
    let (item, need_owner, need_other) = match ev.files.iter().find(|f| f.nametype == "PARENT") {
        Some(p) => (p, 0o500, 0o005),
        None => {
            let f = &ev.files[0];
            let dir = u32::from_str_radix(&f.mode, 8).is_ok_and(|m| m & 0o170000 == 0o040000);
            if dir {
                (f, 0o500, 0o005)
            } else {
                (f, 0o400, 0o004)
            }
        }
    };
    let Ok(mode) = u32::from_str_radix(&item.mode, 8) else {
        return false;
    };
    (mode & need_other == need_other)
        || item
            .ouid
            .is_some_and(|o| m.owns_uid(o) && mode & need_owner == need_owner)
}
