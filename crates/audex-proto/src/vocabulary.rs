//! The event contract's closed sets as types: [`Category`], [`Action`] and
//! [`Outcome`] (DESIGN.md's vocabulary; `(ext)` marks additions). The event
//! keeps strings (they are the wire contract); code sets and compares them
//! through these, so a misspelt verb is a compile error, and the whole
//! vocabulary is listed in one place ([`Action::ALL`]).
use crate::v1::AuditEvent;

macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $v,)*
        }

        impl $name {
            /// Every value, in the order of the contract.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];

            /// The value as the event carries it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s,)*
                }
            }

            /// The value an event carries, if it is one of these.
            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($s => Some($name::$v),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// What an event is about (`category`).
    Category {
        File = "file",
        Process = "process",
        Network = "network",
        Authentication = "authentication",
        Account = "account",
        Audit = "audit",
        Mac = "mac",
        Anomaly = "anomaly",
        System = "system",
        Other = "other",
    }
}

vocabulary! {
    /// How it ended (`outcome`).
    Outcome {
        Success = "success",
        Failure = "failure",
        /// The records do not say.
        Unknown = "unknown",
    }
}

vocabulary! {
    /// What happened (`action`): a verb.
    Action {
        // file
        Opened = "opened",
        Created = "created",
        Deleted = "deleted",
        Renamed = "renamed",
        ChangedMode = "changed-mode",
        ChangedOwner = "changed-owner",
        /// xattr
        ChangedAttributes = "changed-attributes",
        ChangedTimestamps = "changed-timestamps",
        Linked = "linked",
        Truncated = "truncated",
        Mounted = "mounted",
        /// (ext)
        Unmounted = "unmounted",
        // process
        Executed = "executed",
        /// sudo (USER_CMD)
        RanCommand = "ran-command",
        /// (ext)
        SentSignal = "sent-signal",
        /// (ext)
        Traced = "traced",
        /// (ext)
        ChangedIdentity = "changed-identity",
        /// (ext) USER_TTY, TTY
        Typed = "typed",
        // network
        Connected = "connected",
        Bound = "bound",
        Accepted = "accepted",
        /// (ext)
        Listened = "listened",
        /// (ext)
        Sent = "sent",
        /// (ext)
        ChangedFirewall = "changed-firewall",
        // authentication
        LoggedIn = "logged-in",
        LoggedOut = "logged-out",
        Authenticated = "authenticated",
        /// (ext) LOGIN
        ChangedLoginId = "changed-login-id",
        /// (ext) USER_ACCT
        Authorized = "authorized",
        /// (ext) USER_ERR
        Failed = "failed",
        /// (ext)
        StartedSession = "started-session",
        /// (ext)
        EndedSession = "ended-session",
        /// (ext)
        AcquiredCredentials = "acquired-credentials",
        /// (ext)
        DisposedCredentials = "disposed-credentials",
        /// (ext)
        RefreshedCredentials = "refreshed-credentials",
        /// (ext)
        UsedCrypto = "used-crypto",
        // account
        ChangedPassword = "changed-password",
        /// (ext)
        ChangedGroupPassword = "changed-group-password",
        AddedUser = "added-user",
        DeletedUser = "deleted-user",
        /// (ext)
        AddedGroup = "added-group",
        /// (ext)
        DeletedGroup = "deleted-group",
        /// (ext)
        ChangedUser = "changed-user",
        /// (ext)
        ChangedGroup = "changed-group",
        /// (ext)
        LockedAccount = "locked-account",
        /// (ext)
        UnlockedAccount = "unlocked-account",
        /// (ext)
        ChangedRole = "changed-role",
        // audit
        ChangedAuditConfig = "changed-audit-config",
        ChangedAuditRules = "changed-audit-rules",
        /// (ext)
        StartedAudit = "started-audit",
        /// (ext)
        StoppedAudit = "stopped-audit",
        /// (ext)
        RotatedLog = "rotated-log",
        RecordsLost = "records-lost",
        EventsThrottled = "events-throttled",
        RulesRestored = "rules-restored",
        WatchSubscribed = "watch-subscribed",
        WatchRevoked = "watch-revoked",
        /// (ext) a local watch ended: its client left
        WatchUnsubscribed = "watch-unsubscribed",
        ArchiveCheckpoint = "archive-checkpoint",
        /// (ext) the archive's last event of a segment
        ArchiveSealed = "archive-sealed",
        /// (ext) the archive went on after an unclean stop
        ArchiveResumed = "archive-resumed",
        // system
        LoadedModule = "loaded-module",
        /// (ext)
        UnloadedModule = "unloaded-module",
        /// (ext)
        ChangedHostname = "changed-hostname",
        /// (ext)
        ChangedTime = "changed-time",
        /// (ext)
        Rebooted = "rebooted",
        /// (ext)
        UsedBpf = "used-bpf",
        /// (ext)
        ChangedConfig = "changed-config",
        /// (ext)
        StartedService = "started-service",
        /// (ext)
        StoppedService = "stopped-service",
        /// (ext)
        Booted = "booted",
        /// (ext)
        ShutDown = "shut-down",
        /// (ext)
        ChangedRunlevel = "changed-runlevel",
        /// (ext)
        UpdatedSoftware = "updated-software",
        // mac
        /// AVC, AppArmor
        AccessDenied = "access-denied",
        /// (ext)
        AccessGranted = "access-granted",
        // anomaly
        /// (ext)
        Crashed = "crashed",
        /// (ext)
        ChangedPromiscuous = "changed-promiscuous",
        Other = "other",
    }
}

impl AuditEvent {
    /// Sets `category` and `action`.
    pub fn set_kind(&mut self, category: Category, action: Action) {
        self.category.clear();
        self.category.push_str(category.as_str());
        self.set_action(action);
    }

    pub fn set_action(&mut self, action: Action) {
        self.action.clear();
        self.action.push_str(action.as_str());
    }

    pub fn set_outcome(&mut self, outcome: Outcome) {
        self.outcome.clear();
        self.outcome.push_str(outcome.as_str());
    }

    /// Whether the event's action is `a`.
    pub fn is(&self, a: Action) -> bool {
        self.action == a.as_str()
    }

    /// Whether the event's category is `c`.
    pub fn in_category(&self, c: Category) -> bool {
        self.category == c.as_str()
    }

    /// `outcome: failure`.
    pub fn failed(&self) -> bool {
        self.outcome == Outcome::Failure.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_and_none_is_listed_twice() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            s: fn(T) -> &'static str,
            p: fn(&str) -> Option<T>,
        ) {
            let mut seen = std::collections::HashSet::new();
            for &v in all {
                assert_eq!(p(s(v)), Some(v));
                assert!(seen.insert(s(v)), "{} listed twice", s(v));
                assert!(
                    s(v).bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                    "{}",
                    s(v)
                );
            }
            assert_eq!(p("no-such-value"), None);
        }
        check(Category::ALL, Category::as_str, Category::parse);
        check(Outcome::ALL, Outcome::as_str, Outcome::parse);
        check(Action::ALL, Action::as_str, Action::parse);
    }

    #[test]
    fn the_design_vocabulary_is_all_there() {
        // DESIGN.md's lists, as written there.
        let design = "opened created deleted renamed changed-mode changed-owner changed-attributes changed-timestamps linked truncated mounted executed connected bound accepted logged-in logged-out authenticated changed-password added-user deleted-user ran-command changed-audit-config changed-audit-rules loaded-module access-denied records-lost other events-throttled rules-restored watch-subscribed watch-revoked archive-checkpoint";
        for a in design.split(' ') {
            assert!(Action::parse(a).is_some(), "{a}");
        }
        for c in
            "file process network authentication account audit mac anomaly system other".split(' ')
        {
            assert!(Category::parse(c).is_some(), "{c}");
        }
    }
}
