//! Record type numbers and names (`SYSCALL` = 1300, `UNKNOWN[1999]` for the rest).
use crate::record_types_table::RECORD_TYPES;
use std::fmt;

/// An audit record type, by its kernel number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordType(pub u32);

impl RecordType {
    pub const LOGIN: RecordType = RecordType(1006);
    pub const SYSCALL: RecordType = RecordType(1300);
    pub const PATH: RecordType = RecordType(1302);
    pub const IPC: RecordType = RecordType(1303);
    pub const SOCKETCALL: RecordType = RecordType(1304);
    pub const CONFIG_CHANGE: RecordType = RecordType(1305);
    pub const SOCKADDR: RecordType = RecordType(1306);
    pub const CWD: RecordType = RecordType(1307);
    pub const EXECVE: RecordType = RecordType(1309);
    pub const EOE: RecordType = RecordType(1320);
    pub const PROCTITLE: RecordType = RecordType(1327);
    pub const KERN_MODULE: RecordType = RecordType(1330);
    pub const AVC: RecordType = RecordType(1400);

    /// The record type of a name as auditd writes it (`SYSCALL`, `UNKNOWN[1334]`).
    pub fn from_name(name: &[u8]) -> Option<RecordType> {
        if let Some(rest) = name.strip_prefix(b"UNKNOWN[") {
            let digits = rest.strip_suffix(b"]")?;
            return parse_u32(digits).map(RecordType);
        }
        by_name(name)
    }

    /// The name auditd gives this type, if known.
    pub fn name(self) -> Option<&'static str> {
        RECORD_TYPES
            .binary_search_by_key(&self.0, |&(n, _)| n)
            .ok()
            .map(|i| RECORD_TYPES[i].1)
    }

    /// User-space messages (1100–1299, 2100–2999) and a few kernel ones are
    /// complete in one record; kernel syscall-context records wait for EOE.
    pub fn is_single_record(self) -> bool {
        // 1000-1099: control messages; LOGIN (1006) joins the syscall event that
        // wrote /proc/self/loginuid, so it waits like the kernel records.
        matches!(self.0, 1100..=1299 | 2100..=2999)
            || (matches!(self.0, 1000..=1099) && self.0 != 1006)
    }
}

impl RecordType {
    /// False for the audit daemon's own records (DAEMON_*, 1200–1299): auditd
    /// numbers them from its own counter, not the kernel's serial sequence.
    pub fn has_kernel_serial(self) -> bool {
        !matches!(self.0, 1200..=1299)
    }
}

fn by_name(name: &[u8]) -> Option<RecordType> {
    // Fast path for the records that make up nearly every syscall event
    // (matched as bytes: no UTF-8 check for them).
    let hot = match name {
        b"SYSCALL" => 1300,
        b"PATH" => 1302,
        b"CWD" => 1307,
        b"EXECVE" => 1309,
        b"EOE" => 1320,
        b"PROCTITLE" => 1327,
        b"SOCKADDR" => 1306,
        _ => 0,
    };
    if hot != 0 {
        return Some(RecordType(hot));
    }
    let s = std::str::from_utf8(name).ok()?;
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static INDEX: OnceLock<HashMap<&'static str, u32>> = OnceLock::new();
    let idx = INDEX.get_or_init(|| RECORD_TYPES.iter().map(|&(n, s)| (s, n)).collect());
    idx.get(s).copied().map(RecordType)
}

fn parse_u32(d: &[u8]) -> Option<u32> {
    if d.is_empty() || d.len() > 9 {
        return None;
    }
    let mut v: u32 = 0;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (b - b'0') as u32;
    }
    Some(v)
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "UNKNOWN[{}]", self.0),
        }
    }
}
