//! Receiving many datagrams with one system call (`recvmmsg`). Each audit record
//! is a datagram of its own; on the storm bench one `recv` per record was most
//! of the floor reader's cost (system calls are dear on this VM: a failing
//! `open` alone takes ~7 µs), so the record stream is read a batch per call.
//! Takes: a socket fd. Gives: the datagrams' bytes, one buffer each.
use std::io;
use std::os::fd::RawFd;

/// Largest audit record (MAX_AUDIT_MESSAGE_LENGTH, 8970) plus its header, rounded up.
const DATAGRAM_BYTES: usize = 12 << 10;

/// Buffers and headers for up to `n` datagrams, kept between calls.
pub struct RecvMany {
    bufs: Vec<Vec<u8>>,
    /// Pointed at by `hdrs` (kept alive here, never read again).
    _iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers in `iovs`/`hdrs` point into `bufs`, which moves with
// the struct (heap buffers do not move when the Vec of them does).
unsafe impl Send for RecvMany {}

impl RecvMany {
    pub fn new(n: usize) -> RecvMany {
        let mut bufs: Vec<Vec<u8>> = (0..n.max(1)).map(|_| vec![0u8; DATAGRAM_BYTES]).collect();
        let mut iovs: Vec<libc::iovec> = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let hdrs = iovs
            .iter_mut()
            .map(|iov| {
                // SAFETY: a zeroed msghdr is valid (no name, no control data).
                let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
                h.msg_hdr.msg_iov = iov;
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        RecvMany {
            bufs,
            _iovs: iovs,
            hdrs,
        }
    }

    /// Receives up to the batch size: waits (up to the socket's read timeout) for
    /// the first datagram when `wait`, takes only what is queued otherwise.
    /// Returns how many arrived; `datagram(i)` gives each. `Ok(0)` on a timeout
    /// or nothing queued.
    /// (The kernel writes only `msg_len` and the flags back: the headers are set
    /// up once, in [`new`](Self::new).)
    pub fn recv(&mut self, fd: RawFd, wait: bool) -> io::Result<usize> {
        let flags = if wait {
            libc::MSG_WAITFORONE
        } else {
            libc::MSG_DONTWAIT
        };
        // SAFETY: every header points at its own live buffer of DATAGRAM_BYTES.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                self.hdrs.len() as libc::c_uint,
                flags,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        Ok(n as usize)
    }

    /// The bytes of datagram `i` of the last [`recv`](Self::recv).
    pub fn datagram(&self, i: usize) -> &[u8] {
        let len = (self.hdrs[i].msg_len as usize).min(DATAGRAM_BYTES);
        &self.bufs[i][..len]
    }
}
