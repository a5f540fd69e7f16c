//! `struct audit_rule_data`: the kernel's form of a rule, its bytes, and its
//! auditctl-syntax text (as `auditctl -l` prints it).
use super::fields::{self, Kind};
use audex_normalize::tables::{errno_name, Arch};

pub const FILTER_USER: u32 = 0;
pub const FILTER_TASK: u32 = 1;
pub const FILTER_EXIT: u32 = 4;
pub const FILTER_EXCLUDE: u32 = 5;
pub const FILTER_FS: u32 = 6;
pub const FILTER_URING_EXIT: u32 = 7;
pub const FILTER_PREPEND: u32 = 0x10;
pub const ACTION_NEVER: u32 = 0;
pub const ACTION_ALWAYS: u32 = 2;
const MASK_WORDS: usize = 64;
const MAX_FIELDS: usize = 64;
/// Bytes before `buf`: flags, action, field_count, mask, fields, values, fieldflags, buflen.
pub const HEADER_BYTES: usize = 4 * (3 + MASK_WORDS + 3 * MAX_FIELDS + 1);

/// A field value: a number, or a string carried in the rule's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Num(u32),
    Str(String),
}

/// One `-F` condition in kernel terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleField {
    pub field: u32,
    pub op: u32,
    pub value: FieldValue,
}

/// A rule as the kernel holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRule {
    /// Filter list (FILTER_*), with FILTER_PREPEND for `-A`.
    pub flags: u32,
    pub action: u32,
    /// Syscall bitmap.
    pub mask: [u32; MASK_WORDS],
    pub fields: Vec<RuleField>,
}

impl Default for KernelRule {
    fn default() -> Self {
        KernelRule {
            flags: FILTER_EXIT,
            action: ACTION_ALWAYS,
            mask: [0; MASK_WORDS],
            fields: Vec::new(),
        }
    }
}

impl KernelRule {
    pub fn list(&self) -> u32 {
        self.flags & !FILTER_PREPEND
    }

    /// True when adding the rule makes the kernel look a path up (`-w`,
    /// `-F dir=`, `-F path=`, `-F exe=`), with the adding process's own
    /// credentials: under a directory it cannot search, that takes
    /// CAP_DAC_READ_SEARCH.
    pub fn resolves_paths(&self) -> bool {
        self.fields
            .iter()
            .any(|f| matches!(f.field, fields::WATCH | fields::DIR | fields::EXE))
    }

    pub fn set_all_syscalls(&mut self) {
        self.mask = [u32::MAX; MASK_WORDS];
    }

    pub fn add_syscall(&mut self, nr: u32) {
        if (nr as usize) < MASK_WORDS * 32 {
            self.mask[nr as usize / 32] |= 1 << (nr % 32);
        }
    }

    /// True when every syscall is selected. The kernel uses the top 16 bits of the
    /// mask for syscall classes and clears them, so they are not looked at.
    pub fn all_syscalls(&self) -> bool {
        self.mask[..MASK_WORDS - 1].iter().all(|&w| w == u32::MAX)
            && self.mask[MASK_WORDS - 1] & 0xffff == 0xffff
    }

    pub fn syscalls(&self) -> Vec<u32> {
        (0..(MASK_WORDS * 32 - 16) as u32)
            .filter(|&n| self.mask[n as usize / 32] & (1 << (n % 32)) != 0)
            .collect()
    }

    /// The bytes of `audit_rule_data` (native endian, as the kernel reads them).
    pub fn encode(&self) -> Vec<u8> {
        let mut buf: Vec<u8> = Vec::new();
        let mut fields = [0u32; MAX_FIELDS];
        let mut values = [0u32; MAX_FIELDS];
        let mut flags = [0u32; MAX_FIELDS];
        for (i, f) in self.fields.iter().enumerate().take(MAX_FIELDS) {
            fields[i] = f.field;
            flags[i] = f.op;
            values[i] = match &f.value {
                FieldValue::Num(n) => *n,
                FieldValue::Str(s) => {
                    buf.extend_from_slice(s.as_bytes());
                    s.len() as u32
                }
            };
        }
        let mut out = Vec::with_capacity(HEADER_BYTES + buf.len());
        let mut w = |v: u32| out.extend_from_slice(&v.to_ne_bytes());
        w(self.flags);
        w(self.action);
        w(self.fields.len() as u32);
        self.mask.iter().for_each(|&m| w(m));
        fields.iter().for_each(|&m| w(m));
        values.iter().for_each(|&m| w(m));
        flags.iter().for_each(|&m| w(m));
        w(buf.len() as u32);
        out.extend_from_slice(&buf);
        out
    }

    /// Decodes `audit_rule_data` as the kernel lists it.
    pub fn decode(b: &[u8]) -> Option<KernelRule> {
        if b.len() < HEADER_BYTES {
            return None;
        }
        let w = |i: usize| u32::from_ne_bytes(b[i * 4..i * 4 + 4].try_into().unwrap());
        let count = (w(2) as usize).min(MAX_FIELDS);
        let mut mask = [0u32; MASK_WORDS];
        for (i, m) in mask.iter_mut().enumerate() {
            *m = w(3 + i);
        }
        let (fo, vo, oo) = (
            3 + MASK_WORDS,
            3 + MASK_WORDS + MAX_FIELDS,
            3 + MASK_WORDS + 2 * MAX_FIELDS,
        );
        let buflen = w(oo + MAX_FIELDS) as usize;
        let strbuf = b.get(HEADER_BYTES..HEADER_BYTES + buflen)?;
        let mut pos = 0;
        let mut fields = Vec::with_capacity(count);
        for i in 0..count {
            let (field, value, op) = (w(fo + i), w(vo + i), w(oo + i));
            let is_str = fields::by_number(field).is_some_and(|(_, k)| k == Kind::Str);
            let value = if is_str {
                let s = strbuf.get(pos..pos + value as usize)?;
                pos += value as usize;
                FieldValue::Str(String::from_utf8_lossy(s).into_owned())
            } else {
                FieldValue::Num(value)
            };
            fields.push(RuleField { field, op, value });
        }
        Some(KernelRule {
            flags: w(0),
            action: w(1),
            mask,
            fields,
        })
    }

    fn arch(&self) -> Arch {
        self.fields
            .iter()
            .find_map(|f| match (f.field, &f.value) {
                (fields::ARCH, FieldValue::Num(id)) => Some(Arch::from_audit(*id)),
                _ => None,
            })
            .unwrap_or(Arch::X86_64)
    }

    /// True for what `-w PATH -p PERM [-k KEY]` makes.
    fn is_watch(&self) -> bool {
        self.list() == FILTER_EXIT
            && self.action == ACTION_ALWAYS
            && self.all_syscalls()
            && self
                .fields
                .iter()
                .any(|f| matches!(f.field, fields::WATCH | fields::DIR) && f.op == 0x4000_0000)
            && self.fields.iter().all(|f| {
                matches!(
                    f.field,
                    fields::WATCH | fields::DIR | fields::PERM | fields::FILTERKEY
                )
            })
    }

    /// The rule in auditctl syntax, as `auditctl -l` prints it.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if self.is_watch() {
            for f in &self.fields {
                match (f.field, &f.value) {
                    (fields::WATCH | fields::DIR, FieldValue::Str(p)) => {
                        s.push_str(&format!("-w {p}"))
                    }
                    (fields::PERM, FieldValue::Num(p)) => {
                        s.push_str(&format!(" -p {}", fields::perm_text(*p)))
                    }
                    (fields::FILTERKEY, FieldValue::Str(k)) => {
                        for k in k.split('\x01') {
                            s.push_str(&format!(" -k {k}"));
                        }
                    }
                    _ => {}
                }
            }
            return s;
        }
        let list = match self.list() {
            FILTER_USER => "user",
            FILTER_TASK => "task",
            FILTER_EXIT => "exit",
            FILTER_EXCLUDE => "exclude",
            FILTER_FS => "filesystem",
            FILTER_URING_EXIT => "io_uring",
            _ => "unknown",
        };
        let action = if self.action == ACTION_NEVER {
            "never"
        } else {
            "always"
        };
        s.push_str(&format!("-a {action},{list}"));
        let arch = self.arch();
        // The arch field first, as auditctl lists it.
        for f in self.fields.iter().filter(|f| f.field == fields::ARCH) {
            s.push(' ');
            s.push_str(&field_text(f, arch));
        }
        if matches!(self.list(), FILTER_EXIT | FILTER_URING_EXIT) {
            if self.all_syscalls() {
                s.push_str(" -S all");
            } else {
                let names: Vec<String> = self
                    .syscalls()
                    .into_iter()
                    .map(|n| {
                        arch.syscall_name(n)
                            .map_or_else(|| n.to_string(), str::to_string)
                    })
                    .collect();
                if !names.is_empty() {
                    s.push_str(&format!(" -S {}", names.join(",")));
                }
            }
        }
        for f in self.fields.iter().filter(|f| f.field != fields::ARCH) {
            s.push(' ');
            s.push_str(&field_text(f, arch));
        }
        s
    }
}

fn field_text(f: &RuleField, arch: Arch) -> String {
    let _ = arch;
    let (name, kind) = fields::by_number(f.field).unwrap_or(("unknown", Kind::Num));
    let op = fields::op_text(f.op);
    if f.field == fields::FIELD_COMPARE {
        if let FieldValue::Num(v) = f.value {
            if let Some((l, r, _)) = fields::COMPARES.iter().find(|c| c.2 == v) {
                return format!("-C {l}{op}{r}");
            }
        }
    }
    let value = match (&f.value, kind) {
        (FieldValue::Str(s), _) if f.field == fields::FILTERKEY => {
            return s
                .split('\x01')
                .map(|k| format!("-F key={k}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
        (FieldValue::Str(s), _) => s.clone(),
        (FieldValue::Num(v), Kind::Arch) => match *v {
            0xc000_003e => "b64".into(),
            0x4000_0003 => "b32".into(),
            other => Arch::from_audit(other).name(),
        },
        (FieldValue::Num(v), Kind::Perm) => fields::perm_text(*v),
        (FieldValue::Num(v), Kind::Uid) if *v == u32::MAX => "unset".into(),
        (FieldValue::Num(v), Kind::Uid | Kind::Gid) => v.to_string(),
        (FieldValue::Num(v), Kind::Exit) => {
            let e = *v as i32;
            match errno_name(e.unsigned_abs()) {
                Some(n) if e < 0 => format!("-{n}"),
                Some(n) if e > 0 => n.to_string(),
                _ => e.to_string(),
            }
        }
        (FieldValue::Num(v), Kind::FileType) => fields::FILE_TYPES
            .iter()
            .find(|t| t.1 == *v)
            .map_or_else(|| v.to_string(), |t| t.0.to_string()),
        (FieldValue::Num(v), Kind::MsgType) => audex_parse::RecordType(*v)
            .name()
            .map_or_else(|| v.to_string(), str::to_string),
        (FieldValue::Num(v), Kind::FsType) => fields::FS_TYPES
            .iter()
            .find(|t| t.1 == *v)
            .map_or_else(|| v.to_string(), |t| t.0.to_string()),
        (FieldValue::Num(v), _) if f.field >= 200 && f.field <= 203 => format!("0x{v:x}"),
        (FieldValue::Num(v), _) => v.to_string(),
    };
    format!("-F {name}{op}{value}")
}
