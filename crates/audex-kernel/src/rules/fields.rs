//! Rule field names (auditctl's) and what their values are (linux/audit.h numbers).

/// How a field's value is written and encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A number.
    Num,
    /// A user: name, number, or `unset`.
    Uid,
    /// A group: name or number.
    Gid,
    /// A syscall exit: number or errno name (`-EACCES`).
    Exit,
    /// `b64`, `b32` or a machine name.
    Arch,
    /// `rwxa`.
    Perm,
    /// `file`, `dir`, `socket`, ...
    FileType,
    /// A record type name or number.
    MsgType,
    /// `debugfs`, `tracefs` or a number.
    FsType,
    /// A string carried in the rule's buffer.
    Str,
    /// `-C` field comparisons.
    Compare,
}

pub const ARCH: u32 = 11;
pub const MSGTYPE: u32 = 12;
pub const EXIT: u32 = 103;
pub const WATCH: u32 = 105;
pub const PERM: u32 = 106;
pub const DIR: u32 = 107;
pub const FILETYPE: u32 = 108;
pub const FIELD_COMPARE: u32 = 111;
pub const EXE: u32 = 112;
pub const FILTERKEY: u32 = 210;

/// (auditctl name, kernel field number, kind). The first name of a number is
/// the one listings use.
pub static FIELDS: &[(&str, u32, Kind)] = &[
    ("pid", 0, Kind::Num),
    ("uid", 1, Kind::Uid),
    ("euid", 2, Kind::Uid),
    ("suid", 3, Kind::Uid),
    ("fsuid", 4, Kind::Uid),
    ("gid", 5, Kind::Gid),
    ("egid", 6, Kind::Gid),
    ("sgid", 7, Kind::Gid),
    ("fsgid", 8, Kind::Gid),
    ("auid", 9, Kind::Uid),
    ("loginuid", 9, Kind::Uid),
    ("pers", 10, Kind::Num),
    ("arch", ARCH, Kind::Arch),
    ("msgtype", MSGTYPE, Kind::MsgType),
    ("subj_user", 13, Kind::Str),
    ("subj_role", 14, Kind::Str),
    ("subj_type", 15, Kind::Str),
    ("subj_sen", 16, Kind::Str),
    ("subj_clr", 17, Kind::Str),
    ("ppid", 18, Kind::Num),
    ("obj_user", 19, Kind::Str),
    ("obj_role", 20, Kind::Str),
    ("obj_type", 21, Kind::Str),
    ("obj_lev_low", 22, Kind::Str),
    ("obj_lev_high", 23, Kind::Str),
    ("loginuid_set", 24, Kind::Num),
    ("sessionid", 25, Kind::Num),
    ("fstype", 26, Kind::FsType),
    ("devmajor", 100, Kind::Num),
    ("devminor", 101, Kind::Num),
    ("inode", 102, Kind::Num),
    ("exit", EXIT, Kind::Exit),
    ("success", 104, Kind::Num),
    ("path", WATCH, Kind::Str),
    ("perm", PERM, Kind::Perm),
    ("dir", DIR, Kind::Str),
    ("filetype", FILETYPE, Kind::FileType),
    ("obj_uid", 109, Kind::Uid),
    ("obj_gid", 110, Kind::Gid),
    ("field_compare", FIELD_COMPARE, Kind::Compare),
    ("exe", EXE, Kind::Str),
    ("saddr_fam", 113, Kind::Num),
    ("a0", 200, Kind::Num),
    ("a1", 201, Kind::Num),
    ("a2", 202, Kind::Num),
    ("a3", 203, Kind::Num),
    ("key", FILTERKEY, Kind::Str),
];

/// `obj` (auditctl's alias of obj_type? no: SELinux full context is not a rule
/// field) is refused with the field list.
pub fn by_name(name: &str) -> Option<(u32, Kind)> {
    FIELDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, f, k)| (f, k))
}

pub fn by_number(field: u32) -> Option<(&'static str, Kind)> {
    FIELDS
        .iter()
        .find(|(_, f, _)| *f == field)
        .map(|&(n, _, k)| (n, k))
}

/// Operators: text and `fieldflags` value.
pub static OPERATORS: &[(&str, u32)] = &[
    ("!=", 0x3000_0000),
    ("<=", 0x5000_0000),
    (">=", 0x6000_0000),
    ("&=", 0x4800_0000),
    ("=", 0x4000_0000),
    ("<", 0x1000_0000),
    (">", 0x2000_0000),
    ("&", 0x0800_0000),
];

pub fn op_text(op: u32) -> &'static str {
    OPERATORS
        .iter()
        .find(|(_, v)| *v == op)
        .map_or("?", |(t, _)| t)
}

/// File types of `-F filetype=` (S_IF* values).
pub static FILE_TYPES: &[(&str, u32)] = &[
    ("socket", 0o140000),
    ("link", 0o120000),
    ("symlink", 0o120000),
    ("file", 0o100000),
    ("block", 0o060000),
    ("dir", 0o040000),
    ("character", 0o020000),
    ("fifo", 0o010000),
];

/// Filesystem magic numbers of `-F fstype=`.
pub static FS_TYPES: &[(&str, u32)] = &[("debugfs", 0x6462_6720), ("tracefs", 0x7472_6163)];

/// `-C` comparisons: (left, right, AUDIT_COMPARE_* value).
pub static COMPARES: &[(&str, &str, u32)] = &[
    ("uid", "obj_uid", 1),
    ("gid", "obj_gid", 2),
    ("euid", "obj_uid", 3),
    ("egid", "obj_gid", 4),
    ("auid", "obj_uid", 5),
    ("suid", "obj_uid", 6),
    ("sgid", "obj_gid", 7),
    ("fsuid", "obj_uid", 8),
    ("fsgid", "obj_gid", 9),
    ("uid", "auid", 10),
    ("uid", "euid", 11),
    ("uid", "fsuid", 12),
    ("uid", "suid", 13),
    ("auid", "fsuid", 14),
    ("auid", "suid", 15),
    ("auid", "euid", 16),
    ("euid", "suid", 17),
    ("euid", "fsuid", 18),
    ("suid", "fsuid", 19),
    ("gid", "egid", 20),
    ("gid", "fsgid", 21),
    ("gid", "sgid", 22),
    ("egid", "fsgid", 23),
    ("egid", "sgid", 24),
    ("sgid", "fsgid", 25),
];

/// Watch permission letters and bits (AUDIT_PERM_*).
pub fn perm_bits(s: &str) -> Option<u32> {
    let mut bits = 0;
    for c in s.chars() {
        bits |= match c {
            'x' => 1,
            'w' => 2,
            'r' => 4,
            'a' => 8,
            _ => return None,
        };
    }
    (bits != 0).then_some(bits)
}

pub fn perm_text(bits: u32) -> String {
    let mut s = String::new();
    for (b, c) in [(4, 'r'), (2, 'w'), (1, 'x'), (8, 'a')] {
        if bits & b != 0 {
            s.push(c);
        }
    }
    s
}
