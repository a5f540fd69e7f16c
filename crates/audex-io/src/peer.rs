//! Who is on the other end of a local (unix) socket, as the kernel recorded
//! it when the peer connected: `SO_PEERCRED` (pid, uid, gid) and
//! `SO_PEERGROUPS` (the supplementary groups), never what the peer says
//! about itself. Whether the peer held a capability is read from its
//! `/proc/PID/status` right after it connected. Takes a connected socket's
//! descriptor; gives [`Peer`]. For the daemon's local socket.
use crate::access::Credentials;
use std::os::fd::RawFd;

/// The credentials of a connected peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub pid: u32,
    pub cred: Credentials,
}

/// `SO_PEERCRED` and `SO_PEERGROUPS` of the connected unix socket `fd`.
pub fn peer_of(fd: RawFd) -> std::io::Result<Peer> {
    let mut uc = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `uc` is a ucred and `len` its size, as SO_PEERCRED writes.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut uc as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Peer {
        pid: uc.pid as u32,
        cred: Credentials {
            uid: uc.uid,
            gid: uc.gid,
            groups: peer_groups(fd)?,
        },
    })
}

/// The peer's supplementary groups (`SO_PEERGROUPS`, Linux 4.13), growing the
/// buffer when the kernel says it is short.
fn peer_groups(fd: RawFd) -> std::io::Result<Vec<u32>> {
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: the buffer holds `len` bytes of gid_t.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if r == 0 {
            groups.truncate(n);
            return Ok(groups);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ERANGE) && n > groups.len() && n <= 65_536 {
            groups.resize(n, 0);
            continue;
        }
        return Err(e);
    }
}

/// Whether process `pid` holds capability `cap` in its effective set, from
/// `/proc/PID/status` (false when it cannot be read: the peer is gone).
pub fn process_has_cap(pid: u32, cap: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    cap_in_status(&text, cap)
}

/// Whether the `CapEff:` line of a status text has bit `cap`.
fn cap_in_status(status: &str, cap: u32) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|bits| cap < 64 && bits & (1u64 << cap) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_socket_pair_names_this_process_and_its_groups() {
        let (a, _b) = UnixStream::pair().unwrap();
        let p = peer_of(a.as_raw_fd()).unwrap();
        assert_eq!(p.pid, std::process::id());
        // SAFETY: no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        assert_eq!((p.cred.uid, p.cred.gid), (uid, gid));
        // SAFETY: asking for the count only.
        let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
        assert_eq!(p.cred.groups.len(), n as usize);
    }

    #[test]
    fn the_effective_capability_bits_are_read_from_status() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000002000000000\n";
        assert!(cap_in_status(status, 37));
        assert!(!cap_in_status(status, 30));
        assert!(!cap_in_status("CapEff:\tzz\n", 37));
        assert!(!process_has_cap(u32::MAX, 37));
    }
}
