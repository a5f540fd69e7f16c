//! The live record source: a netlink socket subscribed to audit records, either
//! as a multicast reader beside the audit daemon (CAP_AUDIT_READ) or as the audit
//! daemon itself (unicast, CAP_AUDIT_CONTROL). It turns audit on when it was off
//! and puts the kernel back as it found it when closed.
use crate::caps;
use crate::netlink::{AuditSocket, KernelError, Message};
use crate::status::AuditStatus;

/// How to subscribe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Multicast when an audit daemon is registered, else unicast (so records stay
    /// out of the kernel log).
    Auto,
    Multicast,
    Unicast,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "auto" => Ok(Mode::Auto),
            "multicast" => Ok(Mode::Multicast),
            "unicast" => Ok(Mode::Unicast),
            other => Err(format!(
                "unknown source mode {other:?} (auto, multicast, unicast)"
            )),
        }
    }
}

/// Settings of the source.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub mode: Mode,
    /// Socket receive buffer (bytes); forced past rmem_max when allowed.
    pub recv_buffer_bytes: usize,
    /// Kernel backlog limit to set (None: leave as is).
    pub backlog_limit: Option<u32>,
    /// Read timeout, so callers can tick and notice shutdown.
    pub read_timeout_ms: u64,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            mode: Mode::Auto,
            recv_buffer_bytes: 8 << 20,
            backlog_limit: None,
            read_timeout_ms: 200,
        }
    }
}

/// One audit record as the kernel sent it.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub rtype: u16,
    pub payload: Vec<u8>,
}

/// What one read gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// Records were appended.
    Records,
    /// Nothing within the read timeout.
    Idle,
    /// The socket buffer overflowed (ENOBUFS): records were dropped by the kernel.
    Overflow,
}

/// Why the source could not start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Privilege(String),
    #[error("another audit daemon is registered (pid {0}); use multicast mode to read beside it")]
    DaemonPresent(u32),
    #[error("kernel audit: {0}")]
    Kernel(#[from] KernelError),
}

/// A subscribed source. Call [`close`](Source::close) (or drop) to restore the kernel.
pub struct Source {
    sock: AuditSocket,
    ctl: AuditSocket,
    pub mode: Mode,
    restore_enabled: Option<u32>,
    restore_backlog: Option<u32>,
    registered: bool,
    pub recv_buffer_bytes: usize,
    pub enobufs: u64,
    msgs: Vec<Message>,
    closed: bool,
}

impl Source {
    pub fn open(cfg: &SourceConfig) -> Result<Source, SourceError> {
        let mut ctl = AuditSocket::open()?;
        ctl.set_read_timeout(2000)?;
        let st = ctl.status().map_err(|e| match e.errno() {
            Some(libc::EPERM) => SourceError::Privilege(
                "the kernel refused to report audit status: missing capability CAP_AUDIT_CONTROL (run as root or grant it)".into(),
            ),
            _ => SourceError::Kernel(e),
        })?;
        let mode = match cfg.mode {
            Mode::Auto if st.pid != 0 && pid_alive(st.pid) => Mode::Multicast,
            Mode::Auto => Mode::Unicast,
            m => m,
        };
        match mode {
            Mode::Multicast => caps::require(&[(
                caps::CAP_AUDIT_READ,
                "read audit records from the multicast group",
            )])
            .map_err(SourceError::Privilege)?,
            _ => caps::require(&[(caps::CAP_AUDIT_CONTROL, "register as the audit daemon")])
                .map_err(SourceError::Privilege)?,
        }
        let sock = AuditSocket::open()?;
        let granted =
            sock.set_recv_buffer(cfg.recv_buffer_bytes, caps::has(caps::CAP_NET_ADMIN))?;
        sock.set_read_timeout(cfg.read_timeout_ms)?;
        let mut src = Source {
            sock,
            ctl,
            mode,
            restore_enabled: None,
            restore_backlog: None,
            registered: false,
            recv_buffer_bytes: granted,
            enobufs: 0,
            msgs: Vec::new(),
            closed: false,
        };
        match mode {
            Mode::Multicast => src.sock.join_readlog().map_err(|e| match e.errno() {
                Some(libc::EPERM) => SourceError::Privilege(
                    "the kernel refused the audit multicast group: missing capability CAP_AUDIT_READ, or not in the initial network namespace".into(),
                ),
                _ => SourceError::Kernel(e),
            })?,
            Mode::Unicast => {
                if st.pid != 0 && pid_alive(st.pid) && st.pid != std::process::id() {
                    return Err(SourceError::DaemonPresent(st.pid));
                }
                // The daemon pid must be sent from the socket records will go to.
                src.sock.set_read_timeout(2000)?;
                src.sock.set_daemon_pid(std::process::id())?;
                src.sock.set_read_timeout(cfg.read_timeout_ms)?;
                src.registered = true;
            }
            Mode::Auto => unreachable!(),
        }
        if let Some(n) = cfg.backlog_limit {
            if n != st.backlog_limit {
                src.ctl.set_backlog_limit(n)?;
                src.restore_backlog = Some(st.backlog_limit);
            }
        }
        if st.enabled == 0 {
            src.ctl.set_enabled(1)?;
            src.restore_enabled = Some(0);
        }
        Ok(src)
    }

    /// Kernel status (from the control socket).
    pub fn status(&mut self) -> Result<AuditStatus, KernelError> {
        self.ctl.status()
    }

    /// The control socket (rules, status) of this source.
    pub fn control(&mut self) -> &mut AuditSocket {
        &mut self.ctl
    }

    /// Reads one datagram; appends its audit records to `out`.
    pub fn read(&mut self, out: &mut Vec<RawRecord>) -> Result<Read, KernelError> {
        self.msgs.clear();
        match self.sock.recv_into(&mut self.msgs) {
            Ok(false) => return Ok(Read::Idle),
            Ok(true) => {}
            Err(e) if e.errno() == Some(libc::ENOBUFS) => {
                self.enobufs += 1;
                return Ok(Read::Overflow);
            }
            Err(e) => return Err(e),
        }
        let mut any = false;
        for m in self.msgs.drain(..) {
            // Audit records: LOGIN (1006) and 1100 and up; the rest are control replies.
            if crate::netlink::is_record_type(m.kind) {
                out.push(RawRecord {
                    rtype: m.kind,
                    payload: m.payload,
                });
                any = true;
            }
        }
        Ok(if any { Read::Records } else { Read::Idle })
    }

    /// Puts the kernel back: unregisters as daemon, restores backlog limit and
    /// the enabled flag if audex changed them. Errors are returned, not hidden.
    pub fn close(&mut self) -> Vec<String> {
        if self.closed {
            return Vec::new();
        }
        self.closed = true;
        let mut errs = Vec::new();
        if self.registered {
            if let Err(e) = self.ctl.set_daemon_pid(0) {
                errs.push(format!("unregistering as audit daemon: {e}"));
            }
        }
        if let Some(n) = self.restore_backlog {
            if let Err(e) = self.ctl.set_backlog_limit(n) {
                errs.push(format!("restoring backlog limit {n}: {e}"));
            }
        }
        if let Some(v) = self.restore_enabled {
            if let Err(e) = self.ctl.set_enabled(v) {
                errs.push(format!("turning audit back off: {e}"));
            }
        }
        errs
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        for e in self.close() {
            eprintln!("audex: {e}");
        }
    }
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}
