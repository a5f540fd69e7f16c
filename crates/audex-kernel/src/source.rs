//! The live record source: a netlink socket subscribed to audit records, either
//! as a multicast reader beside the audit daemon (CAP_AUDIT_READ) or as the audit
//! daemon itself (unicast, CAP_AUDIT_CONTROL). It turns audit on when it was off,
//! applies the configured kernel settings, and puts the kernel back as it found
//! it when closed.
use crate::caps;
use crate::netlink::{AuditSocket, KernelError};
use crate::status::*;

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
    /// Kernel settings to apply while audex runs (None: leave as is); each one
    /// changed is put back on close.
    pub backlog_limit: Option<u32>,
    /// Records per second before the kernel drops (0: no limit).
    pub rate_limit: Option<u32>,
    /// How long (jiffies) audited processes may wait for backlog room.
    pub backlog_wait_time: Option<u32>,
    /// 0 silent, 1 printk, 2 panic, when records are lost.
    pub failure: Option<u32>,
    /// Read timeout, so callers can tick and notice shutdown (the live loop
    /// ticks at least this often).
    pub read_timeout_ms: u64,
    /// After a read that emptied the socket, wait this long before the next one
    /// so that records arrive in batches: one wake-up for many records instead
    /// of one each (0: none). Records wait in the socket buffer meanwhile; a
    /// read that found a full batch does not wait. None: when the socket buffer
    /// granted is at least [`BATCH_WAIT_MIN_BUFFER`], [`LIGHT_BATCH_WAIT_US`]
    /// after a light cycle and [`BATCH_WAIT_US`] after a heavier one, else
    /// [`SHORT_BATCH_WAIT_US`].
    pub batch_wait_us: Option<u64>,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            mode: Mode::Auto,
            recv_buffer_bytes: 8 << 20,
            backlog_limit: None,
            rate_limit: None,
            backlog_wait_time: None,
            failure: None,
            read_timeout_ms: 100,
            batch_wait_us: None,
        }
    }
}

/// The batching wait with a large socket buffer. Measured on the storm bench
/// (exec+files at 2,000 events/s): `audex run` took 12% less CPU per event with
/// 10 ms than with 2 ms, the bare reader a third less. The kernel makes at most
/// ~15,000 records/s here: 10 ms of them fill well under a megabyte of buffer.
pub const BATCH_WAIT_US: u64 = 10_000;
/// The wait with a large socket buffer after a light cycle (at most
/// [`LIGHT_CYCLE`] records read since the last wait). Measured on the storm
/// bench (exec+files at 2,000 events/s, six alternating runs of each build,
/// `AUDEX_STORM_AUDEX`): `audex run` took 25.3 µs an event (jsonl; 25.6 OTLP)
/// with 30 ms against 29.9 (34.2) with 10 ms: fewer wake-ups, each over more
/// records with the code and data still in cache. After a light cycle the rate
/// is at most ~25,000 records/s, so 30 ms queue under 800 records (about 2 MiB
/// at an estimated 2.3 KiB of socket buffer a record, of at least
/// [`BATCH_WAIT_MIN_BUFFER`]); a heavy cycle
/// goes back to [`BATCH_WAIT_US`].
pub const LIGHT_BATCH_WAIT_US: u64 = 30_000;
/// Records read since the last wait up to which a cycle counts as light.
pub const LIGHT_CYCLE: usize = BATCH_DATAGRAMS;
/// The wait when the buffer could not be raised (a multicast reader without
/// CAP_NET_ADMIN gets `rmem_max`, 208 KiB by default).
pub const SHORT_BATCH_WAIT_US: u64 = 2_000;
/// The buffer from which the long wait is used.
pub const BATCH_WAIT_MIN_BUFFER: usize = 4 << 20;

/// What one read gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// Records were handed over.
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
    /// (Not a `source`: the text already holds it, and `{:#}` would print it twice.)
    #[error("kernel audit: {0}")]
    Kernel(KernelError),
}

impl From<KernelError> for SourceError {
    fn from(e: KernelError) -> Self {
        SourceError::Kernel(e)
    }
}

/// The reading half of a source: the subscribed socket. It can move to a thread
/// of its own; the [`Source`] keeps the control socket and the duty to restore.
pub struct Reader {
    sock: AuditSocket,
    /// Overflow episodes seen (each drops an unknown number of records).
    pub enobufs: u64,
    /// An overflow met while draining, reported by the next read.
    overflow_pending: bool,
    many: crate::recv_many::RecvMany,
    batch_wait: std::time::Duration,
    /// The wait after a light cycle (`batch_wait` when that was configured).
    light_wait: std::time::Duration,
    /// Records read since the last wait.
    since_wait: usize,
    /// The last read emptied the socket (the next one waits first).
    caught_up: bool,
}

/// How long to wait for a batch after a cycle of `cycle` records.
fn wait_after(
    cycle: usize,
    normal: std::time::Duration,
    light: std::time::Duration,
) -> std::time::Duration {
    if cycle <= LIGHT_CYCLE {
        light
    } else {
        normal
    }
}

/// Datagrams one [`Reader::read`] takes at most (one wait, then what is queued),
/// in calls of [`PER_CALL`] each. Measured on the storm bench: handing records
/// over one datagram at a time cost a thread wake-up per record, and a `recv`
/// per record was most of the floor reader's CPU (see README, "Live path").
const BATCH_DATAGRAMS: usize = 256;
const PER_CALL: usize = 64;

impl Reader {
    /// Waits (up to the read timeout) for a datagram, then takes whatever else is
    /// queued, up to [`BATCH_DATAGRAMS`]; calls `f(type, payload)` for each audit
    /// record, the payload borrowed from the receive buffers (nothing is copied
    /// or allocated here).
    pub fn read_each(&mut self, f: &mut dyn FnMut(u16, &[u8])) -> Result<Read, KernelError> {
        if std::mem::take(&mut self.overflow_pending) {
            return Ok(Read::Overflow);
        }
        if std::mem::take(&mut self.caught_up) && !self.batch_wait.is_zero() {
            let wait = wait_after(self.since_wait, self.batch_wait, self.light_wait);
            self.since_wait = 0;
            std::thread::sleep(wait);
        }
        let mut got = 0usize;
        let fd = self.sock.raw_fd();
        for call in 0..BATCH_DATAGRAMS / PER_CALL {
            let n = match self.many.recv(fd, call == 0) {
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.enobufs += 1;
                    if got == 0 {
                        return Ok(Read::Overflow);
                    }
                    self.overflow_pending = true;
                    break;
                }
                // Hand over what was read; the error comes again next time.
                Err(_) if got > 0 => break,
                Err(e) => return Err(e.into()),
            };
            for i in 0..n {
                crate::netlink::for_each_message(self.many.datagram(i), |kind, _, payload| {
                    if crate::netlink::is_record_type(kind) {
                        got += 1;
                        f(kind, payload);
                    }
                })?;
            }
            if n < PER_CALL {
                // The socket is empty (or the wait timed out with nothing).
                self.caught_up = n > 0 || call > 0;
                break;
            }
        }
        self.since_wait += got;
        Ok(if got > 0 { Read::Records } else { Read::Idle })
    }
}

/// A subscribed source. Call [`close`](Source::close) (or drop) to restore the kernel.
pub struct Source {
    reader: Option<Reader>,
    ctl: AuditSocket,
    pub mode: Mode,
    /// Kernel settings to put back, oldest change first.
    restore: Vec<AuditStatus>,
    registered: bool,
    pub recv_buffer_bytes: usize,
    closed: bool,
    /// False when audex may not read kernel status (multicast without
    /// CAP_AUDIT_CONTROL): no lost counter, and it cannot enable audit itself.
    pub status_readable: bool,
}

impl Source {
    pub fn open(cfg: &SourceConfig) -> Result<Source, SourceError> {
        let mut ctl = AuditSocket::open()?;
        ctl.set_read_timeout(2000)?;
        // Reading status needs CAP_AUDIT_CONTROL; a multicast reader can do without
        // it (then it changes no setting and cannot see the kernel's lost counter).
        let st = match ctl.status() {
            Ok(st) => Some(st),
            Err(e) if e.errno() == Some(libc::EPERM) && cfg.mode == Mode::Multicast => None,
            Err(e) => {
                return Err(match e.errno() {
                    Some(libc::EPERM) => SourceError::Privilege(format!(
                        "the kernel refused to report audit status: {}{}",
                        caps::control_refusal(),
                        if caps::has(caps::CAP_AUDIT_CONTROL) {
                            ""
                        } else {
                            "; or use mode multicast with CAP_AUDIT_READ only"
                        }
                    )),
                    _ => SourceError::Kernel(e),
                })
            }
        };
        let mode = match (cfg.mode, &st) {
            (Mode::Auto, Some(st)) if st.pid != 0 && pid_alive(st.pid) => Mode::Multicast,
            (Mode::Auto, _) => Mode::Unicast,
            (m, _) => m,
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
        let mut sock = AuditSocket::open()?;
        let granted =
            sock.set_recv_buffer(cfg.recv_buffer_bytes, caps::has(caps::CAP_NET_ADMIN))?;
        let mut registered = false;
        match mode {
            Mode::Multicast => sock.join_readlog().map_err(|e| match e.errno() {
                Some(libc::EPERM) => SourceError::Privilege(
                    "the kernel refused the audit multicast group: missing capability CAP_AUDIT_READ, or not in the initial network namespace".into(),
                ),
                _ => SourceError::Kernel(e),
            })?,
            Mode::Unicast => {
                let st = st.as_ref().expect("status is read in unicast mode");
                if st.pid != 0 && pid_alive(st.pid) && st.pid != std::process::id() {
                    return Err(SourceError::DaemonPresent(st.pid));
                }
                // The daemon pid must be sent from the socket records will go to.
                sock.set_read_timeout(2000)?;
                sock.set_daemon_pid(std::process::id())?;
                registered = true;
            }
            Mode::Auto => unreachable!(),
        }
        sock.set_read_timeout(cfg.read_timeout_ms)?;
        let us = std::time::Duration::from_micros;
        let (batch_wait, light_wait) = match cfg.batch_wait_us {
            Some(w) => (us(w), us(w)),
            None if granted >= BATCH_WAIT_MIN_BUFFER => {
                (us(BATCH_WAIT_US), us(LIGHT_BATCH_WAIT_US))
            }
            None => (us(SHORT_BATCH_WAIT_US), us(SHORT_BATCH_WAIT_US)),
        };
        let mut src = Source {
            reader: Some(Reader {
                sock,
                enobufs: 0,
                overflow_pending: false,
                many: crate::recv_many::RecvMany::new(PER_CALL),
                batch_wait,
                light_wait,
                since_wait: 0,
                caught_up: false,
            }),
            ctl,
            mode,
            restore: Vec::new(),
            registered,
            recv_buffer_bytes: granted,
            closed: false,
            status_readable: st.is_some(),
        };
        let Some(st) = st else {
            if cfg
                .backlog_limit
                .or(cfg.rate_limit)
                .or(cfg.backlog_wait_time)
                .or(cfg.failure)
                .is_some()
            {
                return Err(SourceError::Privilege(
                    "changing kernel audit settings (backlog_limit, rate_limit, backlog_wait_time, failure) needs capability CAP_AUDIT_CONTROL, which this process lacks".into(),
                ));
            }
            return Ok(src);
        };
        let settings = [
            (cfg.backlog_limit, st.backlog_limit, STATUS_BACKLOG_LIMIT),
            (cfg.rate_limit, st.rate_limit, STATUS_RATE_LIMIT),
            (
                cfg.backlog_wait_time,
                st.backlog_wait_time,
                STATUS_BACKLOG_WAIT_TIME,
            ),
            (cfg.failure, st.failure, STATUS_FAILURE),
        ];
        for (want, had, mask) in settings {
            if let Some(v) = want.filter(|&v| v != had) {
                src.ctl.set_status(&with_field(mask, v))?;
                src.restore.push(with_field(mask, had));
            }
        }
        if st.enabled == 0 {
            src.ctl.set_enabled(1)?;
            src.restore.push(with_field(STATUS_ENABLED, 0));
        }
        Ok(src)
    }

    /// Whether audex turned kernel audit on at start (and turns it off at close).
    pub fn enabled_audit(&self) -> bool {
        self.restore.iter().any(|s| s.mask == STATUS_ENABLED)
    }

    /// Leaves the enabled flag as it is at close: the kernel was locked
    /// (`rules.lock`), so it cannot be put back.
    pub fn keep_enabled_at_close(&mut self) {
        self.restore.retain(|s| s.mask != STATUS_ENABLED);
    }

    /// Whether audex is the registered audit daemon (unicast).
    pub fn is_daemon(&self) -> bool {
        self.registered
    }

    /// Whether closing needs CAP_AUDIT_CONTROL (to unregister or put settings back).
    pub fn needs_control(&self) -> bool {
        self.registered || !self.restore.is_empty()
    }

    /// Kernel status (from the control socket).
    pub fn status(&mut self) -> Result<AuditStatus, KernelError> {
        self.ctl.status()
    }

    /// The control socket (rules, status, messages) of this source.
    pub fn control(&mut self) -> &mut AuditSocket {
        &mut self.ctl
    }

    /// Moves the reading half out (the live loop reads while it uses the
    /// control half). `None` if taken already.
    pub fn take_reader(&mut self) -> Option<Reader> {
        self.reader.take()
    }

    /// Puts the kernel back: unregisters as daemon, restores every setting audex
    /// changed (the enabled flag last). Errors are returned, not hidden.
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
        while let Some(st) = self.restore.pop() {
            if let Err(e) = self.ctl.set_status(&st) {
                errs.push(format!(
                    "restoring kernel audit setting (mask {:#x}): {e}",
                    st.mask
                ));
            }
        }
        errs
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        for e in self.close() {
            audex_log::error!("{e}");
        }
    }
}

fn with_field(mask: u32, v: u32) -> AuditStatus {
    let mut s = AuditStatus {
        mask,
        ..Default::default()
    };
    match mask {
        STATUS_BACKLOG_LIMIT => s.backlog_limit = v,
        STATUS_RATE_LIMIT => s.rate_limit = v,
        STATUS_BACKLOG_WAIT_TIME => s.backlog_wait_time = v,
        STATUS_FAILURE => s.failure = v,
        STATUS_ENABLED => s.enabled = v,
        _ => {}
    }
    s
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_light_cycle_waits_longer_a_heavy_one_does_not() {
        let (normal, light) = (Duration::from_millis(10), Duration::from_millis(30));
        assert_eq!(wait_after(0, normal, light), light);
        assert_eq!(wait_after(70, normal, light), light);
        assert_eq!(wait_after(LIGHT_CYCLE, normal, light), light);
        assert_eq!(wait_after(LIGHT_CYCLE + 1, normal, light), normal);
        assert_eq!(wait_after(5_000, normal, light), normal);
        // After a light cycle at the normal wait, the long one queues at most
        // three times as many records: well within the buffer it needs, at an
        // assumed charge of 2,300 bytes a record (not measured: a 1 KiB audit
        // buffer and the socket's overhead).
        let records_per_s = LIGHT_CYCLE as u64 * 1000 / 10;
        let queued = records_per_s * LIGHT_BATCH_WAIT_US / 1_000_000;
        assert!(queued * 2300 < BATCH_WAIT_MIN_BUFFER as u64 / 2, "{queued}");
    }
}
