//! Capabilities: which one an operation lacks, named in plain words, and
//! dropping all but those the daemon keeps (through the `caps` crate).
use caps::{CapSet, Capability, CapsHashSet};

/// Capability numbers (linux/capability.h).
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_SETPCAP: u32 = 8;
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_SYS_PTRACE: u32 = 19;
pub const CAP_AUDIT_WRITE: u32 = 29;
pub const CAP_AUDIT_CONTROL: u32 = 30;
pub const CAP_AUDIT_READ: u32 = 37;

/// The `caps` crate's capability of number `cap`.
fn capability(cap: u32) -> Option<Capability> {
    caps::all()
        .into_iter()
        .find(|c| u32::from(c.index()) == cap)
}

/// True when this thread has `cap` in its effective set.
pub fn has(cap: u32) -> bool {
    capability(cap)
        .and_then(|c| caps::has_cap(None, CapSet::Effective, c).ok())
        .unwrap_or(false)
}

/// The name of a capability.
pub fn name(cap: u32) -> &'static str {
    match cap {
        CAP_DAC_READ_SEARCH => "CAP_DAC_READ_SEARCH",
        CAP_SETPCAP => "CAP_SETPCAP",
        CAP_NET_ADMIN => "CAP_NET_ADMIN",
        CAP_SYS_PTRACE => "CAP_SYS_PTRACE",
        CAP_AUDIT_WRITE => "CAP_AUDIT_WRITE",
        CAP_AUDIT_CONTROL => "CAP_AUDIT_CONTROL",
        CAP_AUDIT_READ => "CAP_AUDIT_READ",
        _ => "a capability",
    }
}

/// Raises into the effective set every capability the process holds only as
/// permitted, and returns their names. The image grants audex's capabilities as
/// permitted-only file capabilities (`+p`): exec then works in a container whose
/// bounding set lacks some of them (with `+ep` the kernel refuses the exec), and
/// the commands that talk to the kernel raise what they hold, so a capability
/// still missing is named by [`require`]. Per thread: call it before threads start.
pub fn raise_permitted() -> Result<Vec<&'static str>, String> {
    let err = |e: caps::errors::CapsError| format!("capset: {e}");
    let permitted = caps::read(None, CapSet::Permitted).map_err(err)?;
    let effective = caps::read(None, CapSet::Effective).map_err(err)?;
    let raised: Vec<Capability> = permitted.difference(&effective).copied().collect();
    if !raised.is_empty() {
        caps::set(None, CapSet::Effective, &permitted).map_err(err)?;
    }
    let mut names: Vec<&'static str> = raised.iter().map(|c| name(u32::from(c.index()))).collect();
    names.sort_unstable();
    Ok(names)
}

/// Why the kernel answered an audit control request (status, rules, daemon
/// registration) with EPERM, in words a user can act on. Holding
/// CAP_AUDIT_CONTROL is not enough: the kernel also refuses such requests from
/// outside the initial pid namespace, which is where a container without the
/// host's pid namespace runs (seen with podman 4.3's `kube play`, which ignores
/// `hostPID`).
pub fn control_refusal() -> String {
    if !has(CAP_AUDIT_CONTROL) {
        return "missing capability CAP_AUDIT_CONTROL (run as root or grant it)".into();
    }
    if in_nested_pid_namespace() {
        return "kernel audit refuses control requests (status, rules, the audit daemon) from outside the host's pid namespace, and audex runs in a nested one: run it in the host's (Kubernetes `hostPID: true`, `podman run --pid=host`), or use source mode multicast (CAP_AUDIT_READ) with the rules installed by the host".into();
    }
    "the kernel refused although CAP_AUDIT_CONTROL is held (a user namespace, or a security module?)"
        .into()
}

/// True when this process runs in a pid namespace other than the initial one:
/// the kernel gives the initial pid namespace the fixed inode number
/// PROC_PID_INIT_INO (0xEFFFFFFC, linux/proc_ns.h), whatever procfs shows.
pub fn in_nested_pid_namespace() -> bool {
    const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;
    std::fs::metadata("/proc/self/ns/pid")
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m) != PROC_PID_INIT_INO)
        .unwrap_or(false)
}

/// Errors naming the first missing capability of `needed`, with what it is for.
pub fn require(needed: &[(u32, &str)]) -> Result<(), String> {
    for &(cap, why) in needed {
        if !has(cap) {
            return Err(format!(
                "missing capability {} (needed to {why}); run as root or grant it, e.g. `setcap cap_audit_control,cap_audit_read+p audex` (in a container: add it to the container's capabilities)",
                name(cap)
            ));
        }
    }
    Ok(())
}

/// Drops every capability but those of `keep` the process holds now, from the
/// effective, permitted, inheritable, ambient and (when allowed) bounding sets,
/// so neither this process nor what it starts can get them back. Capabilities
/// are per thread: call it before starting threads. Returns what it kept.
pub fn keep_only(keep: &[u32]) -> Result<Vec<&'static str>, String> {
    let err = |what: &str, e: caps::errors::CapsError| format!("{what}: {e}");
    let want: CapsHashSet = keep.iter().filter_map(|&c| capability(c)).collect();
    let permitted = caps::read(None, CapSet::Permitted).map_err(|e| err("capget", e))?;
    if permitted.contains(&Capability::CAP_SETPCAP) {
        for c in caps::all().difference(&want) {
            // EINVAL for what this kernel does not have is fine.
            let _ = caps::drop(None, CapSet::Bounding, *c);
        }
    }
    let _ = caps::clear(None, CapSet::Ambient);
    let kept: CapsHashSet = permitted.intersection(&want).copied().collect();
    // Effective first: it may never hold more than the permitted set.
    caps::set(None, CapSet::Effective, &kept).map_err(|e| err("capset", e))?;
    caps::set(None, CapSet::Permitted, &kept).map_err(|e| err("capset", e))?;
    caps::clear(None, CapSet::Inheritable).map_err(|e| err("capset", e))?;
    Ok(keep
        .iter()
        .filter(|&&c| capability(c).is_some_and(|c| kept.contains(&c)))
        .map(|&c| name(c))
        .collect())
}
