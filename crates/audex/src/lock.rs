//! Immutable mode (`rules.lock: true`): after its rules are in, `run` sets the
//! kernel's audit flag to 2, so no one (audex included) can change rules or
//! settings until reboot. Input: the config's wish, the kernel's flag, the rules
//! in force and the rules a reload wants. Output: what to do at start, and
//! whether a reload may go on (refused, with the reason, when it would change a
//! locked rule set). Only the decisions live here; the tests never set the flag.
use audex_kernel::rules::KernelRule;

/// What `run` does about the flag after installing its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtStart {
    /// Not asked for and not locked: nothing.
    Nothing,
    /// Asked for: set the flag to 2 (rules and settings stay until reboot).
    Lock,
    /// The kernel was locked before audex started: its rules could not be
    /// installed and nothing can be put back at exit.
    AlreadyLocked,
}

/// The kernel's `enabled` flag when it is locked.
pub const LOCKED: u32 = 2;

pub fn at_start(lock: bool, kernel_enabled: u32) -> AtStart {
    match (lock, kernel_enabled) {
        (_, LOCKED) => AtStart::AlreadyLocked,
        (true, _) => AtStart::Lock,
        (false, _) => AtStart::Nothing,
    }
}

/// Whether a reload may change the rules from `current` to `want`: always
/// unless the kernel is locked, and then only when the rule set stays the same
/// (compared as `auditctl -l` prints them).
pub fn reload_allowed(
    locked: bool,
    current: &[KernelRule],
    want: &[(String, KernelRule)],
) -> Result<(), String> {
    if !locked {
        return Ok(());
    }
    let mut a: Vec<String> = current.iter().map(KernelRule::to_text).collect();
    let mut b: Vec<String> = want.iter().map(|(_, r)| r.to_text()).collect();
    a.sort();
    b.sort();
    if a == b {
        return Ok(());
    }
    let added = b.iter().filter(|r| !a.contains(r)).count();
    let removed = a.iter().filter(|r| !b.contains(r)).count();
    Err(format!(
        "the kernel's audit rules are locked (rules.lock set the immutable flag): this config would add {added} and remove {removed} rule(s), which needs a reboot"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(nr: u32) -> KernelRule {
        let mut r = KernelRule::default();
        r.add_syscall(nr);
        r
    }

    #[test]
    fn lock_only_when_asked_and_know_when_it_was_locked_before() {
        assert_eq!(at_start(false, 1), AtStart::Nothing);
        assert_eq!(at_start(false, 0), AtStart::Nothing);
        assert_eq!(at_start(true, 1), AtStart::Lock);
        assert_eq!(at_start(true, 0), AtStart::Lock);
        assert_eq!(at_start(false, LOCKED), AtStart::AlreadyLocked);
        assert_eq!(at_start(true, LOCKED), AtStart::AlreadyLocked);
    }

    #[test]
    fn a_locked_reload_may_not_change_the_rules() {
        let cur = [rule(2), rule(59)];
        let same = [("b".to_string(), rule(59)), ("a".to_string(), rule(2))];
        let more = [
            ("a".to_string(), rule(2)),
            ("b".to_string(), rule(59)),
            ("c".to_string(), rule(90)),
        ];
        assert!(reload_allowed(false, &cur, &more).is_ok());
        assert!(
            reload_allowed(true, &cur, &same).is_ok(),
            "order does not matter"
        );
        let why = reload_allowed(true, &cur, &more).unwrap_err();
        assert!(
            why.contains("add 1 and remove 0") && why.contains("reboot"),
            "{why}"
        );
        let why = reload_allowed(true, &cur, &[]).unwrap_err();
        assert!(why.contains("remove 2"), "{why}");
    }
}
