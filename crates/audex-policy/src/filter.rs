//! One named filter (`filters[]`, at the top level or a tenant's): `drop:`
//! takes the events its selector matches, `keep:` the events it does not.
//! With `keep_first_per_process`, the first event of each process (pid and
//! program) that the filter would take still passes, so process trees stay
//! reconstructible. With `fold_repeats`, it suppresses nothing: it folds
//! what it takes ([`Folder`]). Input: events, in order, with the time now.
//! Output: for each, whether the filter lets it pass, suppresses it or holds
//! it back, and the repeat events due. Where suppressed events go (a
//! filter's exporters, the counters) is the pipeline's business.
use crate::fold::Folder;
use crate::selector::{EventView, Selector, SelectorSpec};
use crate::HoldBack;
use audex_proto::v1::AuditEvent;
use rustc_hash::FxHashSet;
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

/// A filter as configured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterSpec {
    pub name: String,
    pub drop: Option<SelectorSpec>,
    pub keep: Option<SelectorSpec>,
    pub keep_first_per_process: bool,
    /// Fold what the filter takes (runs of identical events within this
    /// many ms) instead of suppressing it.
    pub fold_repeats_ms: Option<u64>,
}

/// How many processes `keep_first_per_process` remembers; past that the
/// oldest is forgotten (its next event would pass again: more kept, never
/// fewer).
pub const FIRST_PER_PROCESS_CAPACITY: usize = 16_384;

/// The processes that already had their first event kept, oldest first.
#[derive(Debug, Clone, Default)]
struct Seen {
    set: FxHashSet<u64>,
    order: VecDeque<u64>,
}

impl Seen {
    /// Whether `key` is new (and now remembered).
    fn first(&mut self, key: u64) -> bool {
        if !self.set.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > FIRST_PER_PROCESS_CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// A compiled filter, with its per-process memory.
#[derive(Debug, Clone)]
pub struct Filter {
    name: String,
    selector: Selector,
    /// A `keep` filter: it takes what the selector does not match.
    keep: bool,
    first: Option<Seen>,
    fold: Option<Folder>,
}

/// What a filter does with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Not its business (or the first of a process, or of a folded run).
    Pass,
    /// Suppressed: for the filter's exporters only.
    Suppress,
    /// Held back by a folding filter: a repeat event will stand for it.
    Hold,
}

/// A process for `keep_first_per_process`: its pid and program (an exec, or a
/// pid used again by another program, is a new process).
fn process_key(ev: &AuditEvent) -> Option<u64> {
    let p = ev.process.as_ref()?;
    let mut h = rustc_hash::FxHasher::default();
    p.pid?.hash(&mut h);
    p.exe.hash(&mut h);
    Some(h.finish())
}

impl Filter {
    /// Errors name the filter and what is wrong with it.
    pub fn compile(spec: &FilterSpec) -> Result<Filter, String> {
        let at = |e: String| format!("filter `{}`: {e}", spec.name);
        let (sel, keep) = match (&spec.drop, &spec.keep) {
            (Some(d), None) => (d, false),
            (None, Some(k)) => (k, true),
            (Some(_), Some(_)) => {
                return Err(at(
                    "give `drop` or `keep`, not both (a second filter does the other)".into(),
                ))
            }
            (None, None) => {
                return Err(at(
                    "give `drop` (what to suppress) or `keep` (what to let through)".into(),
                ))
            }
        };
        if spec.fold_repeats_ms.is_some() && spec.keep_first_per_process {
            return Err(at(
                "give `fold_repeats` or `keep_first_per_process`, not both (a folding filter suppresses nothing)".into(),
            ));
        }
        if sel.is_empty() {
            let key = if keep { "keep" } else { "drop" };
            return Err(at(format!(
                "`{key}` needs at least one selector (an empty one matches every event)"
            )));
        }
        Ok(Filter {
            name: spec.name.clone(),
            selector: Selector::compile(sel).map_err(at)?,
            keep,
            first: spec.keep_first_per_process.then(Seen::default),
            fold: spec.fold_repeats_ms.map(Folder::new),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it folds what it takes instead of suppressing it.
    pub fn folds(&self) -> bool {
        self.fold.is_some()
    }

    /// What the filter does with an event already viewed at `now_ns` (one
    /// view for every filter); a folding filter's repeat events due go to
    /// `due`.
    #[inline]
    pub fn take(&mut self, v: &EventView, now_ns: i64, due: &mut Vec<AuditEvent>) -> Take {
        if self.fold.is_none() {
            return if self.suppresses_view(v) {
                Take::Suppress
            } else {
                Take::Pass
            };
        }
        if !self.selects_view(v) {
            return Take::Pass;
        }
        let passes = self
            .fold
            .as_mut()
            .is_none_or(|f| f.admit(v.ev, now_ns, due));
        if passes {
            Take::Pass
        } else {
            Take::Hold
        }
    }

    /// A folding filter's runs whose window has passed at `now_ns`, to `due`.
    pub fn tick(&mut self, now_ns: i64, due: &mut Vec<AuditEvent>) {
        if let Some(f) = &mut self.fold {
            f.tick(now_ns, due);
        }
    }

    /// Every run a folding filter holds, to `due` (end of input, reload, stop).
    pub fn flush(&mut self, due: &mut Vec<AuditEvent>) {
        if let Some(f) = &mut self.fold {
            f.flush(due);
        }
    }

    /// Whether the selector alone takes an event already viewed.
    pub fn selects_view(&self, v: &EventView) -> bool {
        self.selector.matches_view(v) != self.keep
    }

    /// Whether the selector alone takes `ev` (no per-process memory).
    pub fn selects(&self, ev: &AuditEvent) -> bool {
        self.selector.matches(ev) != self.keep
    }

    /// Whether this filter suppresses `ev`; the first event of a process it
    /// would suppress passes when `keep_first_per_process` is set.
    pub fn suppresses(&mut self, ev: &AuditEvent) -> bool {
        self.suppresses_view(&EventView::new(ev))
    }

    /// The same, for an event already viewed (one view for every filter).
    pub fn suppresses_view(&mut self, v: &EventView) -> bool {
        if !self.selects_view(v) {
            return false;
        }
        match (&mut self.first, process_key(v.ev)) {
            (Some(seen), Some(key)) => !seen.first(key),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audex_proto::v1::Process;

    fn ev(pid: u32, exe: &str, action: &str) -> AuditEvent {
        AuditEvent {
            action: action.into(),
            process: Some(Process {
                pid: Some(pid),
                exe: exe.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn spec(drop: bool, first: bool) -> FilterSpec {
        let s = SelectorSpec {
            exe: vec!["bash".into()],
            ..Default::default()
        };
        FilterSpec {
            name: "f".into(),
            drop: drop.then(|| s.clone()),
            keep: (!drop).then_some(s),
            keep_first_per_process: first,
            fold_repeats_ms: None,
        }
    }

    #[test]
    fn drop_takes_what_matches_and_keep_what_does_not() {
        let mut d = Filter::compile(&spec(true, false)).unwrap();
        let mut k = Filter::compile(&spec(false, false)).unwrap();
        let bash = ev(1, "/usr/bin/bash", "opened");
        let cat = ev(2, "/usr/bin/cat", "opened");
        assert!(d.suppresses(&bash) && !d.suppresses(&cat));
        assert!(!k.suppresses(&bash) && k.suppresses(&cat));
    }

    #[test]
    fn the_first_event_of_each_process_passes() {
        let mut f = Filter::compile(&spec(true, true)).unwrap();
        let passed: Vec<bool> = [
            ev(1, "/usr/bin/bash", "opened"),
            ev(1, "/usr/bin/bash", "opened"),
            ev(2, "/usr/bin/bash", "opened"),
            ev(1, "/usr/bin/bash", "opened"),
            // Not taken by the selector: not remembered either.
            ev(3, "/usr/bin/cat", "opened"),
            ev(3, "/bin/bash", "opened"),
        ]
        .iter()
        .map(|e| !f.suppresses(e))
        .collect();
        assert_eq!(passed, [true, false, true, false, true, true]);
    }

    #[test]
    fn memory_is_bounded_and_forgets_the_oldest() {
        let mut f = Filter::compile(&spec(true, true)).unwrap();
        for pid in 0..(FIRST_PER_PROCESS_CAPACITY as u32 + 10) {
            assert!(!f.suppresses(&ev(pid, "bash", "x")));
        }
        let seen = f.first.as_ref().unwrap();
        assert_eq!(seen.set.len(), FIRST_PER_PROCESS_CAPACITY);
        assert_eq!(seen.order.len(), FIRST_PER_PROCESS_CAPACITY);
        // The oldest were forgotten (first again), the newest are remembered.
        assert!(!f.suppresses(&ev(0, "bash", "x")));
        assert!(f.suppresses(&ev(FIRST_PER_PROCESS_CAPACITY as u32 + 9, "bash", "x")));
    }

    use proptest::prelude::*;

    const EXES: [&str; 3] = ["/usr/bin/bash", "/usr/bin/cat", "/usr/bin/make"];
    const ACTIONS: [&str; 3] = ["opened", "executed", "created"];

    fn any_event() -> impl Strategy<Value = AuditEvent> {
        (1u32..6, 0usize..3, 0usize..3, any::<bool>()).prop_map(|(pid, x, a, keyed)| {
            let mut e = ev(pid, EXES[x], ACTIONS[a]);
            if keyed {
                e.keys = vec!["k".into()];
            }
            e
        })
    }

    fn any_filter() -> impl Strategy<Value = FilterSpec> {
        (
            proptest::sample::subsequence(EXES.to_vec(), 0..3),
            proptest::sample::subsequence(ACTIONS.to_vec(), 0..3),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_filter_map(
                "a selector needs a criterion",
                |(exe, actions, no_key, drop, first)| {
                    let s = SelectorSpec {
                        exe: exe.into_iter().map(String::from).collect(),
                        actions: actions.into_iter().map(String::from).collect(),
                        no_key,
                        ..Default::default()
                    };
                    (!s.is_empty()).then(|| FilterSpec {
                        name: "p".into(),
                        drop: drop.then(|| s.clone()),
                        keep: (!drop).then_some(s),
                        keep_first_per_process: first,
                        fold_repeats_ms: None,
                    })
                },
            )
    }

    proptest! {
        /// A filter suppresses only what its selector takes; what it takes
        /// passes only as the first event of its process, with
        /// keep_first_per_process; kept + suppressed = seen.
        #[test]
        fn suppression_follows_the_selector(spec in any_filter(), evs in proptest::collection::vec(any_event(), 0..60)) {
            let mut f = Filter::compile(&spec).unwrap();
            let mut firsts = std::collections::HashSet::new();
            let (mut kept, mut suppressed) = (0, 0);
            for e in &evs {
                let selected = f.selects(e);
                let gone = f.suppresses(e);
                prop_assert!(!gone || selected, "suppressed what the selector does not take: {e:?}");
                if selected {
                    let first = firsts.insert((e.process.as_ref().unwrap().pid, e.process.as_ref().unwrap().exe.clone()));
                    prop_assert_eq!(gone, !(spec.keep_first_per_process && first));
                }
                if gone { suppressed += 1 } else { kept += 1 }
            }
            prop_assert_eq!(kept + suppressed, evs.len());
        }
    }

    #[test]
    fn a_filter_needs_exactly_one_of_drop_and_keep() {
        let mut s = spec(true, false);
        s.keep = s.drop.clone();
        assert!(Filter::compile(&s).unwrap_err().contains("not both"));
        s.drop = None;
        s.keep = None;
        assert!(Filter::compile(&s).unwrap_err().contains("give `drop`"));
    }
}
