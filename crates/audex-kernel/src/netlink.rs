//! The NETLINK_AUDIT socket: requests with acks, dumps, and the record stream.
use netlink_sys::{protocols::NETLINK_AUDIT, Socket, SocketAddr};
use std::io;
use std::os::fd::AsRawFd;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
/// `AUDIT_NLGRP_READLOG`: the read-only multicast group of audit records.
pub const AUDIT_NLGRP_READLOG: u32 = 1;
const HDR: usize = 16;

/// A kernel answer that is not success.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// (Not a `source`: the text already holds it, and `{:#}` would print it twice.)
    #[error("netlink: {0}")]
    Io(io::Error),
    /// The kernel refused a request with this errno.
    #[error("the kernel refused the request: {}", io::Error::from_raw_os_error(*.0))]
    Refused(i32),
    #[error("malformed netlink reply: {0}")]
    Malformed(&'static str),
    /// socket(AF_NETLINK, NETLINK_AUDIT) itself refused (the errno).
    #[error("{}", socket_refusal(*.0))]
    NoSocket(i32),
}

impl From<io::Error> for KernelError {
    fn from(e: io::Error) -> Self {
        KernelError::Io(e)
    }
}

/// Why the audit socket could not be created, in the words a user can act on.
fn socket_refusal(errno: i32) -> String {
    let why = io::Error::from_raw_os_error(errno);
    match errno {
        // The default seccomp profile of podman, Docker and containerd answers
        // socket(AF_NETLINK, .., NETLINK_AUDIT) with EINVAL unless the container
        // holds CAP_AUDIT_WRITE (measured with podman 4.3 here).
        libc::EINVAL => format!(
            "cannot open the audit netlink socket ({why}): in a container, the runtime's default seccomp profile refuses it unless the container holds CAP_AUDIT_WRITE; add AUDIT_WRITE to the container's capabilities"
        ),
        libc::EPROTONOSUPPORT => format!(
            "cannot open the audit netlink socket ({why}): this kernel has no audit support"
        ),
        _ => format!("cannot open the audit netlink socket: {why}"),
    }
}

impl KernelError {
    /// The error in words a user can act on: a refusal (EPERM) says why
    /// ([`crate::caps::control_refusal`]), anything else as it is.
    pub fn explained(&self) -> String {
        if self.errno() == Some(libc::EPERM) {
            crate::caps::control_refusal()
        } else {
            self.to_string()
        }
    }

    /// The errno the kernel answered with, if it answered.
    pub fn errno(&self) -> Option<i32> {
        match self {
            KernelError::Refused(e) => Some(*e),
            KernelError::Io(e) => e.raw_os_error(),
            KernelError::Malformed(_) => None,
            KernelError::NoSocket(e) => Some(*e),
        }
    }
}

/// One netlink message: type and payload.
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: u16,
    pub seq: u32,
    pub payload: Vec<u8>,
}

/// A NETLINK_AUDIT socket.
pub struct AuditSocket {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl AuditSocket {
    /// Opens and binds a socket (port chosen by the kernel).
    pub fn open() -> Result<AuditSocket, KernelError> {
        let mut sock = Socket::new(NETLINK_AUDIT)
            .map_err(|e| KernelError::NoSocket(e.raw_os_error().unwrap_or(libc::EINVAL)))?;
        sock.bind(&SocketAddr::new(0, 0))?;
        Ok(AuditSocket {
            sock,
            seq: 1,
            buf: vec![0u8; 1 << 16],
        })
    }

    /// Joins the read-only record multicast group (needs CAP_AUDIT_READ).
    pub fn join_readlog(&self) -> Result<(), KernelError> {
        Ok(self.sock.add_membership(AUDIT_NLGRP_READLOG)?)
    }

    /// Sets the receive buffer; with `force` uses SO_RCVBUFFORCE (beyond rmem_max, needs
    /// CAP_NET_ADMIN) and falls back to SO_RCVBUF. Returns the size the kernel granted.
    pub fn set_recv_buffer(&self, bytes: usize, force: bool) -> Result<usize, KernelError> {
        let v = bytes.min(i32::MAX as usize) as libc::c_int;
        let fd = self.sock.as_raw_fd();
        let set = |opt| {
            // SAFETY: plain setsockopt with an int option on our own fd.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    opt,
                    &v as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            }
        };
        if !(force && set(libc::SO_RCVBUFFORCE) == 0) && set(libc::SO_RCVBUF) != 0 {
            return Err(io::Error::last_os_error().into());
        }
        Ok(self.sock.get_rx_buf_sz()?)
    }

    /// Sets a receive timeout so a blocking read returns to check for shutdown.
    pub fn set_read_timeout(&self, ms: u64) -> Result<(), KernelError> {
        let tv = libc::timeval {
            tv_sec: (ms / 1000) as libc::time_t,
            tv_usec: ((ms % 1000) * 1000) as libc::suseconds_t,
        };
        // SAFETY: setsockopt with a timeval on our own fd.
        let r = unsafe {
            libc::setsockopt(
                self.sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error().into());
        }
        Ok(())
    }

    /// The socket's descriptor (for [`crate::recv_many`]).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }

    /// Our netlink port id (the pid the kernel knows us by).
    pub fn port_id(&self) -> u32 {
        let mut a = SocketAddr::new(0, 0);
        let _ = self.sock.get_address(&mut a);
        a.port_number()
    }

    /// Sends a request; returns its sequence number.
    pub fn send(&mut self, kind: u16, payload: &[u8], ack: bool) -> Result<u32, KernelError> {
        self.seq = self.seq.wrapping_add(1);
        let len = HDR + payload.len();
        let mut m = Vec::with_capacity(len.next_multiple_of(4));
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&(NLM_F_REQUEST | if ack { NLM_F_ACK } else { 0 }).to_ne_bytes());
        m.extend_from_slice(&self.seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m.resize(len.next_multiple_of(4), 0);
        self.sock.send(&m, 0)?;
        Ok(self.seq)
    }

    /// Receives one datagram and splits it into messages (appended to `out`).
    /// `Ok(false)` on a read timeout.
    pub fn recv_into(&mut self, out: &mut Vec<Message>) -> Result<bool, KernelError> {
        let n = match self.sock.recv(&mut &mut self.buf[..], 0) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(false)
            }
            Err(e) => return Err(e.into()),
        };
        split(&self.buf[..n], out)?;
        Ok(true)
    }

    /// Receives the next datagram's messages that answer request `seq`.
    fn recv_answers(&mut self, seq: u32, out: &mut Vec<Message>) -> Result<(), KernelError> {
        out.clear();
        if !self.recv_into(out)? {
            return Err(KernelError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "no answer from the kernel",
            )));
        }
        out.retain(|m| m.seq == seq);
        Ok(())
    }

    /// Sends a request with ACK and waits for the ack (or the error).
    pub fn request_ack(&mut self, kind: u16, payload: &[u8]) -> Result<(), KernelError> {
        let seq = self.send(kind, payload, true)?;
        let mut msgs = Vec::new();
        loop {
            self.recv_answers(seq, &mut msgs)?;
            if let Some(m) = msgs.iter().find(|m| m.kind == NLMSG_ERROR) {
                return ack_result(&m.payload);
            }
        }
    }

    /// Sends a request and collects the replies of type `reply` until DONE (dumps)
    /// or, when `single`, the first one.
    pub fn request_replies(
        &mut self,
        kind: u16,
        payload: &[u8],
        reply: u16,
        single: bool,
    ) -> Result<Vec<Vec<u8>>, KernelError> {
        let seq = self.send(kind, payload, false)?;
        let mut out = Vec::new();
        let mut msgs = Vec::new();
        loop {
            self.recv_answers(seq, &mut msgs)?;
            for m in msgs.drain(..) {
                match m.kind {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => ack_result(&m.payload)?,
                    k if k == reply => {
                        out.push(m.payload);
                        if single {
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

fn ack_result(payload: &[u8]) -> Result<(), KernelError> {
    let e = payload
        .get(..4)
        .ok_or(KernelError::Malformed("short NLMSG_ERROR"))?;
    match i32::from_ne_bytes(e.try_into().unwrap()) {
        0 => Ok(()),
        e => Err(KernelError::Refused(-e)),
    }
}

/// Splits a datagram into its netlink messages, owned.
pub fn split(b: &[u8], out: &mut Vec<Message>) -> Result<(), KernelError> {
    for_each_message(b, |kind, seq, payload| {
        out.push(Message {
            kind,
            seq,
            payload: payload.to_vec(),
        })
    })
}

/// Calls `f(kind, seq, payload)` for each netlink message of a datagram,
/// borrowing the payloads.
///
/// Kernel quirk: an audit record sent to the unicast daemon has `nlmsg_len` set to
/// its payload length, without the 16-byte header (audit_log_end; multicast copies
/// are fixed up in kauditd_send_multicast_skb). Each record travels in its own
/// datagram, so a datagram that starts with a record is taken whole.
pub fn for_each_message(
    mut b: &[u8],
    mut f: impl FnMut(u16, u32, &[u8]),
) -> Result<(), KernelError> {
    if b.len() >= HDR {
        let kind = u16::from_ne_bytes(b[4..6].try_into().unwrap());
        if is_record_type(kind) {
            let seq = u32::from_ne_bytes(b[8..12].try_into().unwrap());
            f(kind, seq, &b[HDR..]);
            return Ok(());
        }
    }
    while b.len() >= HDR {
        let len = u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize;
        if len < HDR {
            return Err(KernelError::Malformed(
                "netlink length shorter than its header",
            ));
        }
        let len = len.min(b.len());
        let kind = u16::from_ne_bytes(b[4..6].try_into().unwrap());
        let seq = u32::from_ne_bytes(b[8..12].try_into().unwrap());
        f(kind, seq, &b[HDR..len]);
        let adv = len.next_multiple_of(4).min(b.len());
        b = &b[adv..];
    }
    Ok(())
}

/// Audit record types (USER, LOGIN and 1100 and up); the rest of 1000–1099 are
/// control messages.
pub fn is_record_type(kind: u16) -> bool {
    kind == 1005 || kind == 1006 || kind >= 1100
}
