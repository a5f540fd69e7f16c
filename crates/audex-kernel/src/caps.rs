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
