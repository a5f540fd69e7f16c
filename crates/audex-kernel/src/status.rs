//! `struct audit_status` (44 bytes since Linux 5.x) and AUDIT_GET / AUDIT_SET.
use crate::netlink::{AuditSocket, KernelError};

pub const AUDIT_GET: u16 = 1000;
pub const AUDIT_SET: u16 = 1001;
pub const AUDIT_TRUSTED_APP: u16 = 1121;

pub const STATUS_ENABLED: u32 = 0x01;
pub const STATUS_FAILURE: u32 = 0x02;
pub const STATUS_PID: u32 = 0x04;
pub const STATUS_RATE_LIMIT: u32 = 0x08;
pub const STATUS_BACKLOG_LIMIT: u32 = 0x10;
pub const STATUS_BACKLOG_WAIT_TIME: u32 = 0x20;
pub const STATUS_LOST: u32 = 0x40;

/// The kernel's audit status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditStatus {
    pub mask: u32,
    /// 0 off, 1 on, 2 locked.
    pub enabled: u32,
    /// 0 silent, 1 printk, 2 panic.
    pub failure: u32,
    /// The audit daemon's pid (0: none).
    pub pid: u32,
    pub rate_limit: u32,
    pub backlog_limit: u32,
    /// Records lost since boot.
    pub lost: u32,
    /// Records waiting in the kernel queue.
    pub backlog: u32,
    pub feature_bitmap: u32,
    pub backlog_wait_time: u32,
    /// Time audited processes spent waiting for backlog room (jiffies... ms).
    pub backlog_wait_time_actual: u32,
}

impl AuditStatus {
    pub const SIZE: usize = 44;

    /// Decodes a reply (older kernels send a shorter struct: missing fields are 0).
    pub fn decode(b: &[u8]) -> Result<AuditStatus, KernelError> {
        if b.len() < 32 {
            return Err(KernelError::Malformed("audit_status shorter than 32 bytes"));
        }
        let w = |i: usize| {
            b.get(i * 4..i * 4 + 4)
                .map_or(0, |s| u32::from_ne_bytes(s.try_into().unwrap()))
        };
        Ok(AuditStatus {
            mask: w(0),
            enabled: w(1),
            failure: w(2),
            pid: w(3),
            rate_limit: w(4),
            backlog_limit: w(5),
            lost: w(6),
            backlog: w(7),
            feature_bitmap: w(8),
            backlog_wait_time: w(9),
            backlog_wait_time_actual: w(10),
        })
    }

    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        for (i, v) in [
            self.mask,
            self.enabled,
            self.failure,
            self.pid,
            self.rate_limit,
            self.backlog_limit,
            self.lost,
            self.backlog,
            self.feature_bitmap,
            self.backlog_wait_time,
            self.backlog_wait_time_actual,
        ]
        .iter()
        .enumerate()
        {
            b[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
        }
        b
    }
}

impl AuditSocket {
    /// AUDIT_GET.
    pub fn status(&mut self) -> Result<AuditStatus, KernelError> {
        let r = self.request_replies(AUDIT_GET, &[], AUDIT_GET, true)?;
        AuditStatus::decode(
            r.first()
                .ok_or(KernelError::Malformed("no AUDIT_GET reply"))?,
        )
    }

    /// AUDIT_SET of the fields named in `s.mask`.
    pub fn set_status(&mut self, s: &AuditStatus) -> Result<(), KernelError> {
        self.request_ack(AUDIT_SET, &s.encode())
    }

    pub fn set_enabled(&mut self, enabled: u32) -> Result<(), KernelError> {
        self.set_status(&AuditStatus {
            mask: STATUS_ENABLED,
            enabled,
            ..Default::default()
        })
    }

    /// Registers `pid` as the audit daemon (0 unregisters).
    pub fn set_daemon_pid(&mut self, pid: u32) -> Result<(), KernelError> {
        self.set_status(&AuditStatus {
            mask: STATUS_PID,
            pid,
            ..Default::default()
        })
    }

    /// Sends an application message (AUDIT_TRUSTED_APP) through the kernel, which
    /// gives it the next serial and delivers it like any record (needs CAP_AUDIT_WRITE).
    pub fn send_user_message(&mut self, text: &str) -> Result<(), KernelError> {
        let mut b = text.as_bytes().to_vec();
        b.push(0);
        self.request_ack(AUDIT_TRUSTED_APP, &b)
    }

    pub fn set_backlog_limit(&mut self, n: u32) -> Result<(), KernelError> {
        self.set_status(&AuditStatus {
            mask: STATUS_BACKLOG_LIMIT,
            backlog_limit: n,
            ..Default::default()
        })
    }
}
