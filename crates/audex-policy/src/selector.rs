//! What an event must be for a filter to take it (`filters[].drop` or
//! `keep`): rule keys (or none), exe and comm globs, path prefixes and globs,
//! syscall names, actions, categories, outcome, uid and auid ranges,
//! Kubernetes namespace globs and pod labels, container presence, the socket
//! address (CIDR) and port, process labels. Every criterion given must hold (and); within one
//! criterion's list, any entry is enough (or). Input: a [`SelectorSpec`] as
//! configured. Output: a compiled [`Selector`], or the first entry that is not
//! valid with the reason.
use crate::matcher::{glob, in_ranges, pod_selected, within};
use audex_proto::v1::AuditEvent;
use audex_proto::{Action, Category, Outcome};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A selector as configured: each list empty (or None) when not given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SelectorSpec {
    pub keys: Vec<String>,
    /// Events that carry no rule key.
    pub no_key: bool,
    pub exe: Vec<String>,
    pub comm: Vec<String>,
    pub paths: Vec<String>,
    pub syscalls: Vec<String>,
    pub actions: Vec<String>,
    pub categories: Vec<String>,
    pub outcome: Option<String>,
    /// Inclusive ranges of `actor.uid`.
    pub uids: Vec<(u32, u32)>,
    /// Inclusive ranges of `actor.auid` (an unset auid is in none).
    pub auids: Vec<(u32, u32)>,
    pub k8s_namespaces: Vec<String>,
    /// Label selectors: the pod has every label of one of them.
    pub pod_labels: Vec<BTreeMap<String, String>>,
    /// The process runs in a container (true) or on the host (false).
    pub container: Option<bool>,
    /// Addresses or CIDR blocks of `network.address`.
    pub addresses: Vec<String>,
    /// Inclusive ranges of `network.port`.
    pub ports: Vec<(u32, u32)>,
    /// Process labels (`process.labels[]`).
    pub labels: Vec<String>,
    /// The record type that defines the event (`record_type`: USER_ACCT,
    /// CRYPTO_KEY_USER, ...).
    pub record_types: Vec<String>,
}

impl SelectorSpec {
    /// Whether no criterion is given (such a selector would match every
    /// event); an empty label selector is no criterion.
    pub fn is_empty(&self) -> bool {
        let mut s = self.clone();
        s.pod_labels.retain(|l| !l.is_empty());
        s == SelectorSpec::default()
    }
}

/// A path or exe pattern: a literal (a path and what is under it; an exe
/// exactly), or a glob (`*` and `?` within a path component, `**` across,
/// `[...]`); either matches the base name alone when it has no `/`.
#[derive(Debug, Clone)]
pub(crate) struct PathPattern {
    kind: PatternKind,
    /// No `/` in the pattern: it is matched against the base name.
    base_only: bool,
}

#[derive(Debug, Clone)]
enum PatternKind {
    Literal(String),
    /// With the literal text before its first and after its last wildcard,
    /// which every match starts and ends with: most strings fail there,
    /// without the glob's walk (a miss of the bench's 20 filters cost 502
    /// ns/event without the check, 441 with it: `cargo bench -p audex
    /// --bench filter_stage`).
    Glob {
        pattern: glob::Pattern,
        head: String,
        tail: String,
    },
}

/// The literal text before the first and after the last wildcard of `p`.
fn literal_ends(p: &str) -> (String, String) {
    let wild = |c: char| matches!(c, '*' | '?' | '[' | ']');
    let first = p.find(wild).unwrap_or(p.len());
    let last = p.rfind(wild).map_or(p.len(), |i| i + 1);
    (p[..first].to_string(), p[last.max(first)..].to_string())
}

const GLOB_OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl PathPattern {
    pub(crate) fn new(p: &str) -> Result<PathPattern, String> {
        if p.is_empty() {
            return Err("an empty pattern".into());
        }
        let kind = if p.contains(['*', '?', '[']) {
            let pattern = glob::Pattern::new(p)
                .map_err(|e| format!("`{p}` is not a valid glob: {}", e.msg))?;
            let (head, tail) = literal_ends(p);
            PatternKind::Glob {
                pattern,
                head,
                tail,
            }
        } else {
            PatternKind::Literal(p.to_string())
        };
        Ok(PathPattern {
            kind,
            base_only: !p.contains('/'),
        })
    }

    /// `under`: a literal also takes what is under it (paths), else only
    /// itself (exe).
    pub(crate) fn matches(&self, s: &str, under: bool) -> bool {
        self.matches_with_base(s, base(s), under)
    }

    /// With `s`'s base name already split off.
    fn matches_with_base(&self, s: &str, base: &str, under: bool) -> bool {
        if s.is_empty() {
            return false;
        }
        let s = if self.base_only { base } else { s };
        match &self.kind {
            PatternKind::Literal(l) if under => within(s, l),
            PatternKind::Literal(l) => equal(s, l),
            PatternKind::Glob {
                pattern,
                head,
                tail,
            } => {
                starts_with(s, head) && ends_with(s, tail) && pattern.matches_with(s, GLOB_OPTIONS)
            }
        }
    }
}

/// `a == b` for the short strings of selectors: inline, word by word
/// (a libc `memcmp` call per prefix, suffix or program compared was a third
/// of the filter stage: `cargo bench -p audex --bench filter_stage`).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        if u64::from_ne_bytes(x.try_into().unwrap()) != u64::from_ne_bytes(y.try_into().unwrap()) {
            return false;
        }
    }
    ca.remainder()
        .iter()
        .zip(cb.remainder())
        .all(|(x, y)| x == y)
}

/// `s` starts with `p`.
#[inline]
pub(crate) fn starts_with(s: &str, p: &str) -> bool {
    let (s, p) = (s.as_bytes(), p.as_bytes());
    s.len() >= p.len() && same_bytes(&s[..p.len()], p)
}

/// `s` ends with `p`.
#[inline]
pub(crate) fn ends_with(s: &str, p: &str) -> bool {
    let (s, p) = (s.as_bytes(), p.as_bytes());
    s.len() >= p.len() && same_bytes(&s[s.len() - p.len()..], p)
}

/// `s == p`.
#[inline]
fn equal(s: &str, p: &str) -> bool {
    s.len() == p.len() && same_bytes(s.as_bytes(), p.as_bytes())
}

/// An address block: the address with its first `bits` bits.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    /// `10.0.0.0/8`, `fd00::/8`, or one address. Kept by hand: a dozen lines,
    /// and the one address parser is std's.
    fn parse(s: &str) -> Result<Cidr, String> {
        let bad = || format!("`{s}` is not an address or a CIDR block (10.0.0.0/8, fd00::/8)");
        let (a, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        if bits > max {
            return Err(bad());
        }
        Ok(Cidr { addr, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let (a, b, width) = match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128, 32),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
            (IpAddr::V4(a), IpAddr::V6(b)) => match b.to_ipv4_mapped() {
                Some(b) => (u32::from(a) as u128, u32::from(b) as u128, 32),
                None => return false,
            },
            (IpAddr::V6(_), IpAddr::V4(_)) => return false,
        };
        let shift = width - u32::from(self.bits);
        shift >= width || (a >> shift) == (b >> shift)
    }
}

/// Whether `s` is a valid glob for exe, comm and paths (`validate`).
pub fn check_path_pattern(s: &str) -> Result<(), String> {
    PathPattern::new(s).map(|_| ())
}

/// Whether `s` is an address or a CIDR block (`validate`).
pub fn check_address(s: &str) -> Result<(), String> {
    Cidr::parse(s).map(|_| ())
}

/// The names a selector's `actions`, `categories` and `outcome` take.
pub fn check_vocabulary(what: &str, s: &str) -> Result<(), String> {
    let (ok, all): (bool, Vec<&str>) = match what {
        "actions" => (
            Action::parse(s).is_some(),
            Action::ALL.iter().map(|a| a.as_str()).collect(),
        ),
        "categories" => (
            Category::parse(s).is_some(),
            Category::ALL.iter().map(|a| a.as_str()).collect(),
        ),
        _ => (
            Outcome::parse(s).is_some(),
            Outcome::ALL.iter().map(|a| a.as_str()).collect(),
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not one of the event {what}: {}",
            all.join(", ")
        ))
    }
}

/// What selectors ask of one event, worked out once for all the filters
/// that look at it, when the first asks: the program's base name, the first
/// files' base names.
pub struct EventView<'a> {
    pub ev: &'a AuditEvent,
    exe_base: Cell<Option<&'a str>>,
    /// Base names of the first [`VIEW_FILES`] files (the rest are split
    /// when asked).
    file_bases: [Cell<Option<&'a str>>; VIEW_FILES],
}

const VIEW_FILES: usize = 4;

fn base(s: &str) -> &str {
    match s.as_bytes().iter().rposition(|&b| b == b'/') {
        Some(i) => &s[i + 1..],
        None => s,
    }
}

impl<'a> EventView<'a> {
    pub fn new(ev: &'a AuditEvent) -> EventView<'a> {
        EventView {
            ev,
            exe_base: Cell::new(None),
            file_bases: Default::default(),
        }
    }

    fn once(cell: &Cell<Option<&'a str>>, s: &'a str) -> &'a str {
        match cell.get() {
            Some(b) => b,
            None => {
                let b = base(s);
                cell.set(Some(b));
                b
            }
        }
    }

    fn exe_base(&self, exe: &'a str) -> &'a str {
        EventView::once(&self.exe_base, exe)
    }

    fn file_base(&self, i: usize, path: &'a str) -> &'a str {
        match self.file_bases.get(i) {
            Some(cell) => EventView::once(cell, path),
            None => base(path),
        }
    }
}

/// One criterion given, compiled.
#[derive(Debug, Clone)]
enum Check {
    Actions(Vec<String>),
    Categories(Vec<String>),
    Outcome(String),
    Syscalls(Vec<String>),
    Keys { keys: Vec<String>, no_key: bool },
    Uids(Vec<(u32, u32)>),
    Auids(Vec<(u32, u32)>),
    Container(bool),
    Ports(Vec<(u32, u32)>),
    Addresses(Vec<Cidr>),
    K8sNamespaces(Vec<String>),
    PodLabels(Vec<BTreeMap<String, String>>),
    Exe(Vec<PathPattern>),
    Comm(Vec<PathPattern>),
    Paths(Vec<PathPattern>),
    Labels(Vec<String>),
    RecordTypes(Vec<String>),
}

impl Check {
    fn holds(&self, v: &EventView) -> bool {
        let ev = v.ev;
        let process = ev.process.as_ref();
        let actor = ev.actor.as_ref();
        let net = ev.network.as_ref();
        match self {
            Check::Actions(a) => a.iter().any(|a| equal(a, &ev.action)),
            Check::Categories(c) => c.iter().any(|c| equal(c, &ev.category)),
            Check::Outcome(o) => equal(o, &ev.outcome),
            Check::Syscalls(names) => ev
                .syscall
                .as_ref()
                .is_some_and(|c| names.iter().any(|n| equal(n, &c.name))),
            Check::Keys { keys, no_key } => {
                (*no_key && ev.keys.is_empty())
                    || keys.iter().any(|k| ev.keys.iter().any(|e| equal(k, e)))
            }
            Check::Uids(r) => in_ranges(actor.and_then(|a| a.uid), r),
            Check::Auids(r) => in_ranges(actor.and_then(|a| a.auid), r),
            Check::Container(want) => {
                *want == ev.container.as_ref().is_some_and(|c| !c.id.is_empty())
            }
            Check::Ports(r) => in_ranges(net.and_then(|n| n.port), r),
            Check::Addresses(blocks) => net
                .and_then(|n| n.address.parse::<IpAddr>().ok())
                .is_some_and(|ip| blocks.iter().any(|c| c.contains(ip))),
            Check::K8sNamespaces(globs) => ev.k8s.as_ref().is_some_and(|k| {
                !k.namespace.is_empty() && globs.iter().any(|g| glob(g, &k.namespace))
            }),
            Check::PodLabels(sel) => ev
                .k8s
                .as_ref()
                .is_some_and(|k| pod_selected(sel, &k.labels)),
            Check::Exe(patterns) => process.is_some_and(|p| {
                patterns
                    .iter()
                    .any(|g| g.matches_with_base(&p.exe, v.exe_base(&p.exe), false))
            }),
            Check::Comm(patterns) => {
                process.is_some_and(|p| patterns.iter().any(|g| g.matches(&p.comm, false)))
            }
            Check::Paths(patterns) => ev.files.iter().enumerate().any(|(i, f)| {
                let b = v.file_base(i, &f.path);
                patterns
                    .iter()
                    .any(|g| g.matches_with_base(&f.path, b, true))
            }),
            Check::RecordTypes(t) => t.iter().any(|t| equal(t, &ev.record_type)),
            Check::Labels(l) => process.is_some_and(|p| p.labels.iter().any(|x| l.contains(x))),
        }
    }
}

/// A compiled selector: the criteria given, cheap ones first. Asking every
/// criterion whether it was given, per filter and event, was a fifth of
/// the filter stage (`cargo bench -p audex --bench filter_stage`).
#[derive(Debug, Clone)]
pub struct Selector {
    checks: Vec<Check>,
}

impl Selector {
    /// Errors name the first entry that does not compile.
    pub fn compile(spec: &SelectorSpec) -> Result<Selector, String> {
        if spec.is_empty() {
            return Err(
                "a selector needs at least one criterion (an empty one matches every event)".into(),
            );
        }
        let patterns = |v: &[String], what: &str| -> Result<Vec<PathPattern>, String> {
            v.iter()
                .map(|p| PathPattern::new(p).map_err(|e| format!("`{what}`: {e}")))
                .collect()
        };
        for (what, list) in [("actions", &spec.actions), ("categories", &spec.categories)] {
            for s in list {
                check_vocabulary(what, s)?;
            }
        }
        if let Some(o) = &spec.outcome {
            check_vocabulary("outcome", o)?;
        }
        let addresses = spec
            .addresses
            .iter()
            .map(|a| Cidr::parse(a))
            .collect::<Result<Vec<_>, _>>()?;
        let (exe, comm, paths) = (
            patterns(&spec.exe, "exe")?,
            patterns(&spec.comm, "comm")?,
            patterns(&spec.paths, "paths")?,
        );
        let s = spec.clone();
        let pod_labels: Vec<_> = s.pod_labels.into_iter().filter(|l| !l.is_empty()).collect();
        // Cheapest first: numbers, then short strings, then patterns.
        let candidates = [
            (!s.uids.is_empty(), Check::Uids(s.uids)),
            (!s.auids.is_empty(), Check::Auids(s.auids)),
            (
                s.container.is_some(),
                Check::Container(s.container.unwrap_or(false)),
            ),
            (!s.ports.is_empty(), Check::Ports(s.ports)),
            (
                s.outcome.is_some(),
                Check::Outcome(s.outcome.unwrap_or_default()),
            ),
            (!s.actions.is_empty(), Check::Actions(s.actions)),
            (!s.categories.is_empty(), Check::Categories(s.categories)),
            (!s.syscalls.is_empty(), Check::Syscalls(s.syscalls)),
            (
                !s.record_types.is_empty(),
                Check::RecordTypes(s.record_types),
            ),
            (
                !s.keys.is_empty() || s.no_key,
                Check::Keys {
                    keys: s.keys,
                    no_key: s.no_key,
                },
            ),
            (!s.labels.is_empty(), Check::Labels(s.labels)),
            (!exe.is_empty(), Check::Exe(exe)),
            (!comm.is_empty(), Check::Comm(comm)),
            (!paths.is_empty(), Check::Paths(paths)),
            (
                !s.k8s_namespaces.is_empty(),
                Check::K8sNamespaces(s.k8s_namespaces),
            ),
            (!pod_labels.is_empty(), Check::PodLabels(pod_labels)),
            (!addresses.is_empty(), Check::Addresses(addresses)),
        ];
        Ok(Selector {
            checks: candidates
                .into_iter()
                .filter(|(given, _)| *given)
                .map(|(_, c)| c)
                .collect(),
        })
    }

    /// Every criterion given holds for `ev`.
    pub fn matches(&self, ev: &AuditEvent) -> bool {
        self.matches_view(&EventView::new(ev))
    }

    /// The same, for an event already viewed (one view for every filter).
    /// Nothing allocates.
    pub fn matches_view(&self, v: &EventView) -> bool {
        self.checks.iter().all(|c| c.holds(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audex_proto::v1::{Actor, Container, File, Kubernetes, Network, Process, Syscall};

    fn event() -> AuditEvent {
        AuditEvent {
            category: "file".into(),
            action: "opened".into(),
            outcome: "success".into(),
            record_type: "SYSCALL".into(),
            keys: vec!["web".into()],
            syscall: Some(Syscall {
                name: "openat".into(),
                ..Default::default()
            }),
            actor: Some(Actor {
                uid: Some(1000),
                auid: Some(1000),
                ..Default::default()
            }),
            process: Some(Process {
                pid: Some(42),
                exe: "/usr/bin/bash".into(),
                comm: "bash".into(),
                labels: vec!["shell".into()],
                ..Default::default()
            }),
            files: vec![File {
                path: "/srv/www/index.html".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn sel(f: impl FnOnce(&mut SelectorSpec)) -> Selector {
        let mut s = SelectorSpec::default();
        f(&mut s);
        Selector::compile(&s).unwrap()
    }

    #[test]
    fn each_criterion_matches_and_misses() {
        let ev = event();
        let yes_no = [
            (
                sel(|s| s.keys = vec!["web".into()]),
                sel(|s| s.keys = vec!["db".into()]),
            ),
            (
                sel(|s| s.record_types = vec!["SYSCALL".into()]),
                sel(|s| s.record_types = vec!["USER_ACCT".into()]),
            ),
            (
                sel(|s| s.labels = vec!["x".into(), "shell".into()]),
                sel(|s| s.labels = vec!["backup".into()]),
            ),
            (
                sel(|s| s.exe = vec!["/usr/bin/bash".into()]),
                sel(|s| s.exe = vec!["/usr/bin/ba".into()]),
            ),
            (
                sel(|s| s.exe = vec!["bash".into()]),
                sel(|s| s.exe = vec!["sh".into()]),
            ),
            (
                sel(|s| s.exe = vec!["/usr/*/ba?h".into()]),
                sel(|s| s.exe = vec!["/*/bash".into()]),
            ),
            (
                sel(|s| s.exe = vec!["/usr/**".into()]),
                sel(|s| s.exe = vec!["/bin/**".into()]),
            ),
            (
                sel(|s| s.comm = vec!["ba*".into()]),
                sel(|s| s.comm = vec!["z*".into()]),
            ),
            (
                sel(|s| s.paths = vec!["/srv/www".into()]),
                sel(|s| s.paths = vec!["/srv/ww".into()]),
            ),
            (
                sel(|s| s.paths = vec!["/srv/*/*.html".into()]),
                sel(|s| s.paths = vec!["/srv/*.html".into()]),
            ),
            (
                sel(|s| s.paths = vec!["*.html".into()]),
                sel(|s| s.paths = vec!["*.css".into()]),
            ),
            (
                sel(|s| s.syscalls = vec!["openat".into()]),
                sel(|s| s.syscalls = vec!["open".into()]),
            ),
            (
                sel(|s| s.actions = vec!["opened".into()]),
                sel(|s| s.actions = vec!["created".into()]),
            ),
            (
                sel(|s| s.categories = vec!["file".into()]),
                sel(|s| s.categories = vec!["process".into()]),
            ),
            (
                sel(|s| s.outcome = Some("success".into())),
                sel(|s| s.outcome = Some("failure".into())),
            ),
            (
                sel(|s| s.uids = vec![(1000, 1999)]),
                sel(|s| s.uids = vec![(0, 999)]),
            ),
            (
                sel(|s| s.auids = vec![(1000, 1000)]),
                sel(|s| s.auids = vec![(1001, 2000)]),
            ),
            (
                sel(|s| s.container = Some(false)),
                sel(|s| s.container = Some(true)),
            ),
        ];
        for (i, (yes, no)) in yes_no.iter().enumerate() {
            assert!(yes.matches(&ev), "{i}: {:?}", yes.checks);
            assert!(!no.matches(&ev), "{i}: {:?}", no.checks);
        }
    }

    #[test]
    fn criteria_are_and_lists_are_or() {
        let ev = event();
        assert!(sel(|s| {
            s.exe = vec!["zsh".into(), "bash".into()];
            s.actions = vec!["opened".into()];
        })
        .matches(&ev));
        assert!(!sel(|s| {
            s.exe = vec!["bash".into()];
            s.actions = vec!["created".into()];
        })
        .matches(&ev));
    }

    #[test]
    fn no_key_takes_events_without_keys() {
        let mut ev = event();
        let s = sel(|s| s.no_key = true);
        assert!(!s.matches(&ev));
        ev.keys.clear();
        assert!(s.matches(&ev));
        let either = sel(|s| {
            s.no_key = true;
            s.keys = vec!["web".into()];
        });
        assert!(either.matches(&ev) && either.matches(&event()));
    }

    #[test]
    fn sockets_containers_and_pods() {
        let mut ev = event();
        ev.network = Some(Network {
            family: "inet".into(),
            address: "10.1.2.3".into(),
            port: Some(443),
            path: String::new(),
        });
        ev.container = Some(Container {
            id: "abc".into(),
            runtime: "containerd".into(),
        });
        ev.k8s = Some(Kubernetes {
            namespace: "payments-eu".into(),
            labels: [("app".to_string(), "api".to_string())].into(),
            ..Default::default()
        });
        assert!(sel(|s| s.addresses = vec!["10.0.0.0/8".into()]).matches(&ev));
        assert!(!sel(|s| s.addresses = vec!["10.1.3.0/24".into()]).matches(&ev));
        assert!(sel(|s| s.addresses = vec!["10.1.2.3".into()]).matches(&ev));
        assert!(sel(|s| s.addresses = vec!["0.0.0.0/0".into()]).matches(&ev));
        assert!(sel(|s| s.ports = vec![(443, 443)]).matches(&ev));
        assert!(!sel(|s| s.ports = vec![(80, 80)]).matches(&ev));
        assert!(sel(|s| s.container = Some(true)).matches(&ev));
        assert!(sel(|s| s.k8s_namespaces = vec!["payments-*".into()]).matches(&ev));
        assert!(!sel(|s| s.k8s_namespaces = vec!["web".into()]).matches(&ev));
        assert!(sel(|s| s.pod_labels = vec![[("app".into(), "api".into())].into()]).matches(&ev));
        assert!(!sel(|s| s.pod_labels = vec![[("app".into(), "db".into())].into()]).matches(&ev));
        ev.network.as_mut().unwrap().address = "::ffff:10.1.2.3".into();
        assert!(sel(|s| s.addresses = vec!["10.1.0.0/16".into()]).matches(&ev));
        ev.network.as_mut().unwrap().address = "fd00::1".into();
        assert!(sel(|s| s.addresses = vec!["fd00::/8".into()]).matches(&ev));
        assert!(!sel(|s| s.addresses = vec!["10.0.0.0/8".into()]).matches(&ev));
        // No socket: an address or port criterion does not hold.
        ev.network = None;
        assert!(!sel(|s| s.ports = vec![(0, 65535)]).matches(&ev));
    }

    #[test]
    fn bad_entries_are_named() {
        let bad = |f: fn(&mut SelectorSpec)| {
            let mut s = SelectorSpec::default();
            f(&mut s);
            Selector::compile(&s).unwrap_err()
        };
        assert!(bad(|_| {}).contains("at least one criterion"));
        assert!(
            bad(|s| s.exe = vec!["/usr/[bin".into()]).contains("`/usr/[bin` is not a valid glob")
        );
        assert!(
            bad(|s| s.addresses = vec!["10.0.0.0/33".into()]).contains("not an address or a CIDR")
        );
        assert!(bad(|s| s.actions = vec!["opend".into()])
            .contains("`opend` is not one of the event actions"));
        assert!(bad(|s| s.outcome = Some("ok".into())).contains("success, failure"));
    }
}
