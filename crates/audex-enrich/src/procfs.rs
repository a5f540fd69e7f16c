//! Reading a process from `/proc` under the host root: what the kernel still
//! knows of a pid. Everything may fail (the process may be gone): None then.
use std::path::PathBuf;

/// The host's `/proc` (under `host_root`).
#[derive(Debug, Clone)]
pub struct ProcFs {
    root: PathBuf,
    /// This procfs shows the pids of audex's own pid namespace, so `kill(pid,
    /// 0)` answers for them (see [`ProcFs::gone`]).
    probe_by_signal: bool,
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
        let root = host_root.into().join("proc");
        let probe_by_signal = std::fs::read_link(root.join("self"))
            .ok()
            .and_then(|p| p.to_str()?.parse::<u32>().ok())
            == Some(std::process::id());
        ProcFs {
            root,
            probe_by_signal,
        }
    }

    /// Whether `pid` has certainly exited (and been reaped). Most pids an
    /// exec storm's events name are gone when their events arrive, and a
    /// failed open of `/proc/<pid>/...` walks the path and allocates and frees
    /// a dentry: 9% of `run`'s CPU on the storm bench's exec + file storm
    /// (`perf record`, `do_sys_openat2`; 0.75 failed opens an event under
    /// `strace -c`). `kill(pid, 0)` looks the pid up without a path: ESRCH is
    /// gone, success or EPERM is there. Only asked where this procfs is of
    /// audex's own pid namespace; elsewhere nothing is certain (false).
    pub fn gone(&self, pid: u32) -> bool {
        let Ok(signed) = i32::try_from(pid) else {
            return false;
        };
        if !self.probe_by_signal || signed <= 0 {
            return false;
        }
        // SAFETY: signal 0 only checks that the process exists; a positive
        // pid names one process, never a group.
        let r = unsafe { libc::kill(signed, 0) };
        r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }

    pub fn path(&self, pid: u32, what: &str) -> PathBuf {
        self.root.join(pid.to_string()).join(what)
    }

    /// `/proc/<pid>/cgroup`. Read at every exec: an open and one or two reads
    /// into a small buffer (`read_to_string` adds a statx and a last empty read;
    /// it was 9% of `run`'s CPU on the storm bench's exec storm).
    pub fn cgroup(&self, pid: u32) -> Option<String> {
        if self.gone(pid) {
            return None;
        }
        self.cgroup_of_live(pid)
    }

    /// [`ProcFs::cgroup`] once `pid` is known not to be gone.
    fn cgroup_of_live(&self, pid: u32) -> Option<String> {
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
        if self.gone(pid) {
            return None;
        }
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
            cgroup: self.cgroup_of_live(pid),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reaped_child_is_gone_and_a_live_process_is_not() {
        let proc = ProcFs::new("/");
        assert!(proc.probe_by_signal, "/proc is this test's own procfs");
        assert!(!proc.gone(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(proc.gone(pid));
        assert!(proc.read(pid).is_none() && proc.cgroup(pid).is_none());
        // Never a process group, never a wrapped pid.
        assert!(!proc.gone(0));
        assert!(!proc.gone(u32::MAX));
    }

    #[test]
    fn another_procfs_is_never_probed_by_signal() {
        let root = std::env::temp_dir().join(format!("audex-procfs-{}", std::process::id()));
        std::fs::create_dir_all(root.join("proc")).unwrap();
        let proc = ProcFs::new(&root);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!proc.probe_by_signal && !proc.gone(pid));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
