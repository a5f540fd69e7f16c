//! Capabilities: which one an operation lacks, named in plain words.

/// Capability numbers (linux/capability.h).
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_SETPCAP: u32 = 8;
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_SYS_PTRACE: u32 = 19;
pub const CAP_AUDIT_WRITE: u32 = 29;
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

/// `capget`/`capset` header and data, version 3 (linux/capability.h).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_VERSION_3: u32 = 0x2008_0522;

/// Drops every capability but those of `keep` the process holds now, from the
/// effective, permitted, inheritable, ambient and (when allowed) bounding sets,
/// so neither this process nor what it starts can get them back. Capabilities
/// are per thread: call it before starting threads. Returns what it kept.
pub fn keep_only(keep: &[u32]) -> Result<Vec<&'static str>, String> {
    let want: u64 = keep.iter().fold(0, |m, &c| m | 1u64 << c);
    let mut hdr = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and two data structs as the v3 ABI defines them.
    if unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) } != 0 {
        return Err(format!("capget: {}", std::io::Error::last_os_error()));
    }
    let permitted = data[0].permitted as u64 | (data[1].permitted as u64) << 32;
    if permitted & (1 << CAP_SETPCAP) != 0 {
        for cap in 0..64u64 {
            if want & (1 << cap) == 0 {
                // SAFETY: plain prctl; EINVAL past the kernel's last capability is fine.
                unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
            }
        }
    }
    // SAFETY: plain prctl.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    let kept = permitted & want;
    for (i, d) in data.iter_mut().enumerate() {
        let bits = (kept >> (32 * i)) as u32;
        *d = CapData {
            effective: bits,
            permitted: bits,
            inheritable: 0,
        };
    }
    // SAFETY: as above.
    if unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) } != 0 {
        return Err(format!("capset: {}", std::io::Error::last_os_error()));
    }
    Ok(keep
        .iter()
        .filter(|&&c| kept & (1 << c) != 0)
        .map(|&c| name(c))
        .collect())
}
