//! The action vocabulary: which syscall or record type means which
//! (category, action). Names follow DESIGN.md; additions are marked (ext).

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
    pub category: &'static str,
    pub action: &'static str,
    pub open_flags: OpenFlagsArg,
}

const fn file(action: &'static str) -> SyscallAction {
    SyscallAction {
        category: "file",
        action,
        open_flags: OpenFlagsArg::None,
    }
}
const fn cat(category: &'static str, action: &'static str) -> SyscallAction {
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
        category: "file",
        action: "opened",
        open_flags: OpenFlagsArg::Arg(arg),
    };
    Some(match name {
        "open" => open(1),
        "openat" => open(2),
        "open_by_handle_at" => open(2),
        "openat2" => file("opened"),
        "creat" | "mkdir" | "mkdirat" | "mknod" | "mknodat" => file("created"),
        "unlink" | "unlinkat" | "rmdir" => file("deleted"),
        "rename" | "renameat" | "renameat2" => file("renamed"),
        "chmod" | "fchmod" | "fchmodat" | "fchmodat2" => file("changed-mode"),
        "chown" | "fchown" | "lchown" | "fchownat" | "chown32" | "fchown32" | "lchown32" => {
            file("changed-owner")
        }
        "setxattr" | "lsetxattr" | "fsetxattr" | "removexattr" | "lremovexattr"
        | "fremovexattr" | "setxattrat" | "removexattrat" => file("changed-attributes"),
        "utime" | "utimes" | "futimesat" | "utimensat" | "utimensat_time64" => {
            file("changed-timestamps")
        }
        "link" | "linkat" | "symlink" | "symlinkat" => file("linked"),
        "truncate" | "ftruncate" | "truncate64" | "ftruncate64" => file("truncated"),
        "mount" | "fsmount" | "move_mount" | "mount_setattr" => file("mounted"),
        "umount" | "umount2" => file("unmounted"), // ext
        "execve" | "execveat" => cat("process", "executed"),
        "connect" => cat("network", "connected"),
        "bind" => cat("network", "bound"),
        "accept" | "accept4" => cat("network", "accepted"),
        "listen" => cat("network", "listened"), // ext
        "sendto" | "sendmsg" | "sendmmsg" => cat("network", "sent"), // ext
        "init_module" | "finit_module" => cat("system", "loaded-module"),
        "delete_module" => cat("system", "unloaded-module"), // ext
        "kill" | "tkill" | "tgkill" | "rt_sigqueueinfo" | "pidfd_send_signal" => {
            cat("process", "sent-signal")
        } // ext
        "ptrace" | "process_vm_writev" | "process_vm_readv" => cat("process", "traced"), // ext
        "setuid" | "setreuid" | "setresuid" | "setfsuid" | "setgid" | "setregid" | "setresgid"
        | "setfsgid" | "setuid32" | "setreuid32" | "setresuid32" | "setgid32" | "setregid32"
        | "setresgid32" | "setgroups" | "capset" => cat("process", "changed-identity"), // ext
        "sethostname" | "setdomainname" => cat("system", "changed-hostname"), // ext
        "settimeofday" | "clock_settime" | "adjtimex" | "clock_adjtime" | "stime" => {
            cat("system", "changed-time")
        } // ext
        "reboot" | "kexec_load" | "kexec_file_load" => cat("system", "rebooted"), // ext
        "bpf" => cat("system", "used-bpf"),                  // ext
        _ => return None,
    })
}

/// (category, action) of an event defined by a non-SYSCALL record type.
pub fn record_action(type_name: &str, type_num: u32) -> (&'static str, &'static str) {
    match type_name {
        "USER_LOGIN" => ("authentication", "logged-in"),
        "USER_LOGOUT" => ("authentication", "logged-out"),
        "LOGIN" => ("authentication", "changed-login-id"), // ext
        "USER_AUTH" => ("authentication", "authenticated"),
        "USER_ACCT" => ("authentication", "authorized"), // ext
        "USER_ERR" => ("authentication", "failed"),      // ext
        "USER_START" => ("authentication", "started-session"), // ext
        "USER_END" => ("authentication", "ended-session"), // ext
        "CRED_ACQ" => ("authentication", "acquired-credentials"), // ext
        "CRED_DISP" => ("authentication", "disposed-credentials"), // ext
        "CRED_REFR" => ("authentication", "refreshed-credentials"), // ext
        "USER_CHAUTHTOK" => ("account", "changed-password"),
        "GRP_CHAUTHTOK" => ("account", "changed-group-password"), // ext
        "ADD_USER" => ("account", "added-user"),
        "DEL_USER" => ("account", "deleted-user"),
        "ADD_GROUP" => ("account", "added-group"),   // ext
        "DEL_GROUP" => ("account", "deleted-group"), // ext
        "USER_MGMT" => ("account", "changed-user"),  // ext
        "GRP_MGMT" => ("account", "changed-group"),  // ext
        "ACCT_LOCK" => ("account", "locked-account"), // ext
        "ACCT_UNLOCK" => ("account", "unlocked-account"), // ext
        "USER_ROLE_CHANGE" | "ROLE_ASSIGN" | "ROLE_REMOVE" => ("account", "changed-role"), // ext
        "USER_CMD" => ("process", "ran-command"),
        "USER_TTY" | "TTY" => ("process", "typed"), // ext
        "CONFIG_CHANGE" | "DAEMON_CONFIG" => ("audit", "changed-audit-config"),
        "DAEMON_START" | "DAEMON_RESUME" => ("audit", "started-audit"), // ext
        "DAEMON_END" | "DAEMON_ABORT" => ("audit", "stopped-audit"),    // ext
        "DAEMON_ROTATE" => ("audit", "rotated-log"),                    // ext
        "USYS_CONFIG" => ("system", "changed-config"),                  // ext
        "SERVICE_START" => ("system", "started-service"),               // ext
        "SERVICE_STOP" => ("system", "stopped-service"),                // ext
        "SYSTEM_BOOT" => ("system", "booted"),                          // ext
        "SYSTEM_SHUTDOWN" => ("system", "shut-down"),                   // ext
        "SYSTEM_RUNLEVEL" => ("system", "changed-runlevel"),            // ext
        "KERN_MODULE" => ("system", "loaded-module"),
        "BPF" => ("system", "used-bpf"),                     // ext
        "NETFILTER_CFG" => ("network", "changed-firewall"),  // ext
        "SOFTWARE_UPDATE" => ("system", "updated-software"), // ext
        "CRYPTO_KEY_USER"
        | "CRYPTO_SESSION"
        | "CRYPTO_LOGIN"
        | "CRYPTO_LOGOUT"
        | "CRYPTO_PARAM_CHANGE_USER" => ("authentication", "used-crypto"), // ext
        "AVC"
        | "USER_AVC"
        | "SELINUX_ERR"
        | "USER_SELINUX_ERR"
        | "USER_MAC_POLICY_LOAD"
        | "MAC_POLICY_LOAD"
        | "MAC_STATUS"
        | "MAC_CONFIG_CHANGE" => ("mac", "other"),
        "ANOM_ABEND" => ("anomaly", "crashed"), // ext
        "ANOM_PROMISCUOUS" => ("anomaly", "changed-promiscuous"), // ext
        _ => match type_num {
            1400..=1499 | 2300..=2399 => ("mac", "other"),
            1500..=1599 => ("mac", "other"), // AppArmor
            1700..=1799 | 2100..=2199 => ("anomaly", "other"),
            1100..=1199 | 2400..=2499 => ("other", "other"),
            _ => ("other", "other"),
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
