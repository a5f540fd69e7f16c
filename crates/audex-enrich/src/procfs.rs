//! Reading a process from `/proc` under the host root: what the kernel still
//! knows of a pid. Everything may fail (the process may be gone): None then.
use std::path::PathBuf;

/// The host's `/proc` (under `host_root`).
#[derive(Debug, Clone)]
pub struct ProcFs {
    root: PathBuf,
}

/// What `/proc/<pid>` tells of a process.
#[derive(Debug, Clone, Default)]
pub struct ProcRead {
    pub exe: String,
    pub comm: String,
    pub args: Vec<String>,
    pub ppid: Option<u32>,
    pub uid: Option<u32>,
    pub cgroup: Option<String>,
}

impl ProcFs {
    pub fn new(host_root: impl Into<PathBuf>) -> ProcFs {
        ProcFs {
            root: host_root.into().join("proc"),
        }
    }

    pub fn path(&self, pid: u32, what: &str) -> PathBuf {
        self.root.join(pid.to_string()).join(what)
    }

    /// `/proc/<pid>/cgroup`. Read at every exec: an open and one or two reads
    /// into a small buffer (`read_to_string` adds a statx and a last empty read;
    /// it was 9% of `run`'s CPU on the storm bench's exec storm).
    pub fn cgroup(&self, pid: u32) -> Option<String> {
        use std::io::Read;
        let mut f = std::fs::File::open(self.path(pid, "cgroup")).ok()?;
        let mut buf = [0u8; 2048];
        let mut text = Vec::new();
        loop {
            let n = f.read(&mut buf).ok()?;
            text.extend_from_slice(&buf[..n]);
            // /proc files are read a page at a time: a short read is the end.
            if n < buf.len() || text.len() > 64 << 10 {
                break;
            }
        }
        String::from_utf8(text).ok()
    }

    /// The parent pid (from `status`).
    pub fn ppid(&self, pid: u32) -> Option<u32> {
        let status = std::fs::read_to_string(self.path(pid, "status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse().ok())
    }

    /// comm, exe, argv, ppid, uid and cgroup of a live process.
    pub fn read(&self, pid: u32) -> Option<ProcRead> {
        let status = std::fs::read_to_string(self.path(pid, "status")).ok()?;
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(str::trim)
        };
        let cmdline = std::fs::read(self.path(pid, "cmdline")).unwrap_or_default();
        let args = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        Some(ProcRead {
            exe: std::fs::read_link(self.path(pid, "exe"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            comm: field("Name:").unwrap_or("").to_string(),
            args,
            ppid: field("PPid:").and_then(|v| v.parse().ok()),
            uid: field("Uid:").and_then(|v| v.split_whitespace().next()?.parse().ok()),
            cgroup: self.cgroup(pid),
        })
    }
}
