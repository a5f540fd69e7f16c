//! Session peers: for server processes (smbd, sshd, ...), the remote address of
//! the TCP connection they serve — the socket inodes in `/proc/<pid>/fd`
//! matched in the process's own `/proc/<pid>/net/tcp{,6}` (its network
//! namespace). Looked up at most every 2 s per pid.
use crate::procfs::ProcFs;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

const FRESH: Duration = Duration::from_secs(2);

pub struct Peers {
    proc: ProcFs,
    cache: HashMap<u32, (Instant, Option<(String, u16)>)>,
}

/// An address of `/proc/net/tcp{,6}`: hex, in the kernel's byte order per
/// 32-bit word, then `:PORT` in hex.
fn parse_addr(s: &str) -> Option<(String, u16)> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let addr = match a.len() {
        8 => Ipv4Addr::from(u32::from_str_radix(a, 16).ok()?.swap_bytes()).to_string(),
        32 => {
            let mut b = [0u8; 16];
            for w in 0..4 {
                let v = u32::from_str_radix(&a[w * 8..w * 8 + 8], 16)
                    .ok()?
                    .swap_bytes();
                b[w * 4..w * 4 + 4].copy_from_slice(&v.to_be_bytes());
            }
            let v6 = Ipv6Addr::from(b);
            v6.to_ipv4_mapped()
                .map_or(v6.to_string(), |v4| v4.to_string())
        }
        _ => return None,
    };
    Some((addr, port))
}

/// The remote end of the first established connection among `inodes`.
pub fn established_peer(tcp_tables: &[String], inodes: &[u64]) -> Option<(String, u16)> {
    for table in tcp_tables {
        for line in table.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "01" {
                continue;
            }
            if f[9].parse::<u64>().is_ok_and(|i| inodes.contains(&i)) {
                return parse_addr(f[2]);
            }
        }
    }
    None
}

impl Peers {
    pub fn new(proc: ProcFs) -> Peers {
        Peers {
            proc,
            cache: HashMap::new(),
        }
    }

    /// The peer of `pid`'s connection, if it holds an established TCP socket.
    pub fn peer(&mut self, pid: u32) -> Option<(String, u16)> {
        if let Some((at, p)) = self.cache.get(&pid) {
            if at.elapsed() < FRESH {
                return p.clone();
            }
        }
        let found = self.lookup(pid);
        if self.cache.len() > 4096 {
            self.cache.retain(|_, (at, _)| at.elapsed() < FRESH);
        }
        self.cache.insert(pid, (Instant::now(), found.clone()));
        found
    }

    fn lookup(&self, pid: u32) -> Option<(String, u16)> {
        let fds = std::fs::read_dir(self.proc.path(pid, "fd")).ok()?;
        let inodes: Vec<u64> = fds
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .filter_map(|l| {
                let s = l.to_string_lossy().into_owned();
                s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
            })
            .collect();
        if inodes.is_empty() {
            return None;
        }
        let tables: Vec<String> = ["net/tcp", "net/tcp6"]
            .iter()
            .filter_map(|t| std::fs::read_to_string(self.proc.path(pid, t)).ok())
            .collect();
        established_peer(&tables, &inodes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v4_and_v6_tables() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1\n   1: 0100007F:0016 0F02000A:D431 01 00000000:00000000 00:00000000 00000000     0        0 222 1\n".to_string();
        let v6 = "  sl  local_address                         remote_address                        st\n   0: 00000000000000000000000001000000:0016 0000000000000000FFFF00000500A8C0:C350 01 00000000:00000000 00:00000000 00000000     0        0 333 1\n".to_string();
        let t = [v4, v6];
        assert_eq!(
            established_peer(&t, &[222]),
            Some(("10.0.2.15".into(), 54321))
        );
        assert_eq!(
            established_peer(&t, &[333]),
            Some(("192.168.0.5".into(), 50000))
        );
        assert_eq!(
            established_peer(&t, &[111]),
            None,
            "listening, not established"
        );
        assert_eq!(
            parse_addr("00000000000000000000000001000000:0050"),
            Some(("::1".into(), 80))
        );
    }
}
