//! Capabilities: which one an operation lacks, named in plain words.

/// Capability numbers (linux/capability.h).
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_AUDIT_CONTROL: u32 = 30;
pub const CAP_AUDIT_READ: u32 = 37;

/// True when this process has `cap` in its effective set.
pub fn has(cap: u32) -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .is_some_and(|bits| bits & (1u64 << cap) != 0)
}

/// The name of a capability.
pub fn name(cap: u32) -> &'static str {
    match cap {
        CAP_NET_ADMIN => "CAP_NET_ADMIN",
        CAP_AUDIT_CONTROL => "CAP_AUDIT_CONTROL",
        CAP_AUDIT_READ => "CAP_AUDIT_READ",
        _ => "a capability",
    }
}

/// Errors naming the first missing capability of `needed`, with what it is for.
pub fn require(needed: &[(u32, &str)]) -> Result<(), String> {
    for &(cap, why) in needed {
        if !has(cap) {
            return Err(format!(
                "missing capability {} (needed to {why}); run as root or grant it, e.g. `setcap cap_audit_control,cap_audit_read+ep audex`",
                name(cap)
            ));
        }
    }
    Ok(())
}
