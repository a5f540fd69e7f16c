//! The action vocabulary: which syscall or record type means which
//! (category, action). Names follow DESIGN.md ([`audex_proto::vocabulary`]);
//! additions are marked (ext).
use audex_proto::{Action, Category};

/// How an action treats the syscall's flags argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFlagsArg {
    None,
    /// Open flags are argument aN (0-based).
    Arg(usize),
}

/// What a syscall does, in our vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallAction {
    pub category: Category,
    pub action: Action,
    pub open_flags: OpenFlagsArg,
}

const fn file(action: Action) -> SyscallAction {
    SyscallAction {
        category: Category::File,
        action,
        open_flags: OpenFlagsArg::None,
    }
}
const fn cat(category: Category, action: Action) -> SyscallAction {
    SyscallAction {
        category,
        action,
        open_flags: OpenFlagsArg::None,
    }
}

/// The action of a syscall by name (names are the same across arches; i386's
/// `*32` variants included). `None`: not in the vocabulary.
pub fn syscall_action(name: &str) -> Option<SyscallAction> {
    let open = |arg| SyscallAction {
        category: Category::File,
        action: Action::Opened,
        open_flags: OpenFlagsArg::Arg(arg),
    };
    Some(match name {
        "open" => open(1),
        "openat" => open(2),
        "open_by_handle_at" => open(2),
        "openat2" => file(Action::Opened),
        "creat" | "mkdir" | "mkdirat" | "mknod" | "mknodat" => file(Action::Created),
        "unlink" | "unlinkat" | "rmdir" => file(Action::Deleted),
        "rename" | "renameat" | "renameat2" => file(Action::Renamed),
        "chmod" | "fchmod" | "fchmodat" | "fchmodat2" => file(Action::ChangedMode),
        "chown" | "fchown" | "lchown" | "fchownat" | "chown32" | "fchown32" | "lchown32" => {
            file(Action::ChangedOwner)
        }
        "setxattr" | "lsetxattr" | "fsetxattr" | "removexattr" | "lremovexattr"
        | "fremovexattr" | "setxattrat" | "removexattrat" => file(Action::ChangedAttributes),
        "utime" | "utimes" | "futimesat" | "utimensat" | "utimensat_time64" => {
            file(Action::ChangedTimestamps)
        }
        "link" | "linkat" | "symlink" | "symlinkat" => file(Action::Linked),
        "truncate" | "ftruncate" | "truncate64" | "ftruncate64" => file(Action::Truncated),
        "mount" | "fsmount" | "move_mount" | "mount_setattr" => file(Action::Mounted),
        "umount" | "umount2" => file(Action::Unmounted), // ext
        "execve" | "execveat" => cat(Category::Process, Action::Executed),
        "connect" => cat(Category::Network, Action::Connected),
        "bind" => cat(Category::Network, Action::Bound),
        "accept" | "accept4" => cat(Category::Network, Action::Accepted),
        "listen" => cat(Category::Network, Action::Listened), // ext
        "sendto" | "sendmsg" | "sendmmsg" => cat(Category::Network, Action::Sent), // ext
        "init_module" | "finit_module" => cat(Category::System, Action::LoadedModule),
        "delete_module" => cat(Category::System, Action::UnloadedModule), // ext
        "kill" | "tkill" | "tgkill" | "rt_sigqueueinfo" | "pidfd_send_signal" => {
            cat(Category::Process, Action::SentSignal)
        } // ext
        "ptrace" | "process_vm_writev" | "process_vm_readv" => {
            cat(Category::Process, Action::Traced)
        } // ext
        "setuid" | "setreuid" | "setresuid" | "setfsuid" | "setgid" | "setregid" | "setresgid"
        | "setfsgid" | "setuid32" | "setreuid32" | "setresuid32" | "setgid32" | "setregid32"
        | "setresgid32" | "setgroups" | "capset" => cat(Category::Process, Action::ChangedIdentity), // ext
        "sethostname" | "setdomainname" => cat(Category::System, Action::ChangedHostname), // ext
        "settimeofday" | "clock_settime" | "adjtimex" | "clock_adjtime" | "stime" => {
            cat(Category::System, Action::ChangedTime)
        } // ext
        "reboot" | "kexec_load" | "kexec_file_load" => cat(Category::System, Action::Rebooted), // ext
        "bpf" => cat(Category::System, Action::UsedBpf), // ext
        _ => return None,
    })
}

/// (category, action) of an event defined by a non-SYSCALL record type.
pub fn record_action(type_name: &str, type_num: u32) -> (Category, Action) {
    match type_name {
        "USER_LOGIN" => (Category::Authentication, Action::LoggedIn),
        "USER_LOGOUT" => (Category::Authentication, Action::LoggedOut),
        "LOGIN" => (Category::Authentication, Action::ChangedLoginId), // ext
        "USER_AUTH" => (Category::Authentication, Action::Authenticated),
        "USER_ACCT" => (Category::Authentication, Action::Authorized), // ext
        "USER_ERR" => (Category::Authentication, Action::Failed),      // ext
        "USER_START" => (Category::Authentication, Action::StartedSession), // ext
        "USER_END" => (Category::Authentication, Action::EndedSession), // ext
        "CRED_ACQ" => (Category::Authentication, Action::AcquiredCredentials), // ext
        "CRED_DISP" => (Category::Authentication, Action::DisposedCredentials), // ext
        "CRED_REFR" => (Category::Authentication, Action::RefreshedCredentials), // ext
        "USER_CHAUTHTOK" => (Category::Account, Action::ChangedPassword),
        "GRP_CHAUTHTOK" => (Category::Account, Action::ChangedGroupPassword), // ext
        "ADD_USER" => (Category::Account, Action::AddedUser),
        "DEL_USER" => (Category::Account, Action::DeletedUser),
        "ADD_GROUP" => (Category::Account, Action::AddedGroup), // ext
        "DEL_GROUP" => (Category::Account, Action::DeletedGroup), // ext
        "USER_MGMT" => (Category::Account, Action::ChangedUser), // ext
        "GRP_MGMT" => (Category::Account, Action::ChangedGroup), // ext
        "ACCT_LOCK" => (Category::Account, Action::LockedAccount), // ext
        "ACCT_UNLOCK" => (Category::Account, Action::UnlockedAccount), // ext
        "USER_ROLE_CHANGE" | "ROLE_ASSIGN" | "ROLE_REMOVE" => {
            (Category::Account, Action::ChangedRole)
        } // ext
        "USER_CMD" => (Category::Process, Action::RanCommand),
        "USER_TTY" | "TTY" => (Category::Process, Action::Typed), // ext
        "CONFIG_CHANGE" | "DAEMON_CONFIG" => (Category::Audit, Action::ChangedAuditConfig),
        "DAEMON_START" | "DAEMON_RESUME" => (Category::Audit, Action::StartedAudit), // ext
        "DAEMON_END" | "DAEMON_ABORT" => (Category::Audit, Action::StoppedAudit),    // ext
        "DAEMON_ROTATE" => (Category::Audit, Action::RotatedLog),                    // ext
        "USYS_CONFIG" => (Category::System, Action::ChangedConfig),                  // ext
        "SERVICE_START" => (Category::System, Action::StartedService),               // ext
        "SERVICE_STOP" => (Category::System, Action::StoppedService),                // ext
        "SYSTEM_BOOT" => (Category::System, Action::Booted),                         // ext
        "SYSTEM_SHUTDOWN" => (Category::System, Action::ShutDown),                   // ext
        "SYSTEM_RUNLEVEL" => (Category::System, Action::ChangedRunlevel),            // ext
        "KERN_MODULE" => (Category::System, Action::LoadedModule),
        "BPF" => (Category::System, Action::UsedBpf), // ext
        "NETFILTER_CFG" => (Category::Network, Action::ChangedFirewall), // ext
        "SOFTWARE_UPDATE" => (Category::System, Action::UpdatedSoftware), // ext
        "CRYPTO_KEY_USER"
        | "CRYPTO_SESSION"
        | "CRYPTO_LOGIN"
        | "CRYPTO_LOGOUT"
        | "CRYPTO_PARAM_CHANGE_USER" => (Category::Authentication, Action::UsedCrypto), // ext
        "AVC"
        | "USER_AVC"
        | "SELINUX_ERR"
        | "USER_SELINUX_ERR"
        | "USER_MAC_POLICY_LOAD"
        | "MAC_POLICY_LOAD"
        | "MAC_STATUS"
        | "MAC_CONFIG_CHANGE" => (Category::Mac, Action::Other),
        "ANOM_ABEND" => (Category::Anomaly, Action::Crashed), // ext
        "ANOM_PROMISCUOUS" => (Category::Anomaly, Action::ChangedPromiscuous), // ext
        _ => match type_num {
            1400..=1499 | 2300..=2399 => (Category::Mac, Action::Other),
            1500..=1599 => (Category::Mac, Action::Other), // AppArmor
            1700..=1799 | 2100..=2199 => (Category::Anomaly, Action::Other),
            1100..=1199 | 2400..=2499 => (Category::Other, Action::Other),
            _ => (Category::Other, Action::Other),
        },
    }
}

/// `access` of an open from its flags (O_ACCMODE).
pub fn access_of_flags(flags: u64) -> &'static str {
    match flags & 3 {
        0 => "read",
        1 => "write",
        _ => "read-write",
    }
}

/// `access` of openat2 from the OPENAT2 record's `oflag` (hex).
pub const O_CREAT: u64 = 0o100;
/// Truncate on open.
pub const O_TRUNC: u64 = 0o1000;

/// The open flags of an open-like syscall, from the event's syscall
/// arguments (hex, as the kernel wrote them); None for other syscalls and
/// for openat2 (whose flags are in a record the event does not keep).
pub fn open_flags(s: &audex_proto::v1::Syscall) -> Option<u64> {
    match syscall_action(&s.name)?.open_flags {
        OpenFlagsArg::Arg(i) => u64::from_str_radix(s.args.get(i)?, 16).ok(),
        OpenFlagsArg::None => None,
    }
}
