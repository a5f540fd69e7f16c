//! auditctl syntax → [`KernelRule`]s. Errors are `file:line: reason`.
//!
//! Accepts what auditctl accepts in rule files: `-w/-W` with `-p` and `-k`,
//! `-a/-A/-d list,action` with `-S` (names per arch or numbers, `all`), `-F` with
//! every field and operator, `-C` comparisons, comments and `\` continuations.
//! Control lines (`-D`, `-b`, `-e`, `-f`, `-r`, ...) are returned as such.
use super::fields::{self, Kind};
use super::kernel_rule::*;
use audex_normalize::tables::{errno_number, Arch};
use std::collections::HashMap;
use std::fmt;

/// What a rule line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOp {
    /// `-a` / `-w`: append.
    Add,
    /// `-A`: prepend.
    Prepend,
    /// `-d` / `-W`: delete.
    Delete,
}

/// One line of a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per rule line; boxing buys nothing
pub enum Directive {
    Rule {
        op: RuleOp,
        rule: KernelRule,
    },
    /// A control line (`-D`, `-b 8192`, `-e 1`, ...), kept as written.
    Control(String),
}

/// A parsed line with where it came from.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub file: String,
    pub line: usize,
    pub text: String,
    pub directive: Directive,
}

/// `file:line: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

impl std::error::Error for RuleError {}

/// User and group names for `-F uid=alice`, from the host's passwd and group files.
#[derive(Default)]
pub struct Names {
    users: HashMap<String, u32>,
    groups: HashMap<String, u32>,
}

impl Names {
    pub fn from_host() -> Names {
        let read = |p: &str| -> HashMap<String, u32> {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| {
                    let mut it = l.split(':');
                    let (n, _, id) = (it.next()?, it.next()?, it.next()?);
                    Some((n.to_string(), id.parse().ok()?))
                })
                .collect()
        };
        Names {
            users: read("/etc/passwd"),
            groups: read("/etc/group"),
        }
    }
}

/// Parses a whole rule file: directives in order and every error (parsing goes on).
pub fn parse_file_text(file: &str, text: &str, names: &Names) -> (Vec<Parsed>, Vec<RuleError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut pending = String::new();
    let mut start_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let raw = raw.trim_end();
        if pending.is_empty() {
            start_line = line_no;
        }
        if let Some(cont) = raw.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        pending.push_str(raw);
        let line = std::mem::take(&mut pending);
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        match parse_args(&t.split_whitespace().collect::<Vec<_>>(), names) {
            Ok(directive) => out.push(Parsed {
                file: file.to_string(),
                line: start_line,
                text: t.to_string(),
                directive,
            }),
            Err(reason) => errors.push(RuleError {
                file: file.to_string(),
                line: start_line,
                reason,
            }),
        }
    }
    if !pending.trim().is_empty() {
        errors.push(RuleError {
            file: file.to_string(),
            line: start_line,
            reason: "line continuation at end of file".into(),
        });
    }
    (out, errors)
}

const CONTROL_WITH_ARG: &[&str] = &["-b", "-e", "-f", "-r", "--backlog_wait_time", "-t"];
const CONTROL_ALONE: &[&str] = &[
    "-D",
    "-i",
    "-c",
    "--loginuid-immutable",
    "--reset-lost",
    "-s",
    "-l",
    "-q",
    "-v",
];

/// Parses the words of one rule line.
/// The rule of `-w path -p perm [-k key]` (no key when `key` is empty).
pub fn watch_rule(path: &str, perm: &str, key: &str) -> Result<KernelRule, String> {
    let mut words = vec!["-w", path, "-p", perm];
    if !key.is_empty() {
        words.extend(["-k", key]);
    }
    match parse_args(&words, &Names::default())? {
        Directive::Rule { rule, .. } => Ok(rule),
        Directive::Control(c) => Err(format!("`{c}` is not a watch")),
    }
}

pub fn parse_args(args: &[&str], names: &Names) -> Result<Directive, String> {
    let first = *args.first().ok_or("empty rule")?;
    if CONTROL_ALONE.contains(&first) || CONTROL_WITH_ARG.contains(&first) {
        return Ok(Directive::Control(args.join(" ")));
    }
    let mut rule = KernelRule::default();
    let mut op: Option<RuleOp> = None;
    let mut watch: Option<String> = None;
    let mut perm: Option<u32> = None;
    let mut keys: Vec<String> = Vec::new();
    let mut arch = Arch::X86_64;
    let mut saw_syscall = false;
    let mut i = 0;
    let next = |i: &mut usize, opt: &str| -> Result<String, String> {
        *i += 1;
        args.get(*i)
            .map(|s| s.to_string())
            .ok_or_else(|| format!("option {opt} needs a value"))
    };
    while i < args.len() {
        match args[i] {
            o @ ("-w" | "-W") => {
                let mut path = next(&mut i, o)?;
                // As auditctl: trailing slashes are trimmed (the kernel matches names).
                while path.len() > 1 && path.ends_with('/') {
                    path.pop();
                }
                if !path.starts_with('/') {
                    return Err(format!("watch path {path:?} must be absolute"));
                }
                set_op(
                    &mut op,
                    if o == "-w" {
                        RuleOp::Add
                    } else {
                        RuleOp::Delete
                    },
                )?;
                watch = Some(path);
            }
            "-p" => {
                let p = next(&mut i, "-p")?;
                perm = Some(fields::perm_bits(&p).ok_or_else(|| {
                    format!("permission {p:?} is not a combination of r, w, x, a")
                })?);
            }
            "-k" => {
                let k = next(&mut i, "-k")?;
                check_key(&k)?;
                keys.push(k);
            }
            o @ ("-a" | "-A" | "-d") => {
                let spec = next(&mut i, o)?;
                let (list, action) = list_action(&spec)?;
                rule.flags = list | if o == "-A" { FILTER_PREPEND } else { 0 };
                rule.action = action;
                set_op(
                    &mut op,
                    match o {
                        "-a" => RuleOp::Add,
                        "-A" => RuleOp::Prepend,
                        _ => RuleOp::Delete,
                    },
                )?;
            }
            "-S" => {
                let spec = next(&mut i, "-S")?;
                saw_syscall = true;
                for name in spec.split(',').filter(|s| !s.is_empty()) {
                    if name == "all" {
                        rule.set_all_syscalls();
                    } else if let Ok(n) = name.parse::<u32>() {
                        rule.add_syscall(n);
                    } else {
                        let n = arch.syscall_number(name).ok_or_else(|| {
                            format!("unknown syscall {name:?} for arch {}", arch.name())
                        })?;
                        rule.add_syscall(n);
                    }
                }
            }
            "-F" => {
                let expr = next(&mut i, "-F")?;
                let (name, opv, value) = split_expr(&expr)?;
                let (field, kind) = fields::by_name(name)
                    .ok_or_else(|| format!("unknown field {name:?} in {expr:?}"))?;
                if field == fields::FILTERKEY {
                    if opv != 0x4000_0000 {
                        return Err("key only takes =".into());
                    }
                    check_key(value)?;
                    keys.push(value.to_string());
                } else {
                    if kind == Kind::Arch {
                        if saw_syscall {
                            return Err(
                                "arch= must come before -S (syscall names depend on it)".into()
                            );
                        }
                        arch = Arch::from_rule_name(value).ok_or_else(|| {
                            format!("unknown arch {value:?} (b64, b32, x86_64, i386, aarch64)")
                        })?;
                    }
                    let v = field_value(kind, field, opv, value, names)?;
                    push_field(
                        &mut rule,
                        RuleField {
                            field,
                            op: opv,
                            value: v,
                        },
                    )?;
                }
            }
            "-C" => {
                let expr = next(&mut i, "-C")?;
                let (l, opv, r) = split_expr(&expr)?;
                if opv != 0x4000_0000 && opv != 0x3000_0000 {
                    return Err(format!("-C {expr}: only = and != compare fields"));
                }
                let v = fields::COMPARES
                    .iter()
                    .find(|(a, b, _)| (*a == l && *b == r) || (*a == r && *b == l))
                    .ok_or_else(|| format!("-C {expr}: fields {l} and {r} cannot be compared"))?
                    .2;
                push_field(
                    &mut rule,
                    RuleField {
                        field: fields::FIELD_COMPARE,
                        op: opv,
                        value: FieldValue::Num(v),
                    },
                )?;
            }
            other => return Err(format!("unknown option {other:?}")),
        }
        i += 1;
    }
    let op = op.ok_or("a rule needs -a, -A, -d, -w or -W")?;
    if let Some(path) = watch {
        if !rule.fields.is_empty() || saw_syscall {
            return Err("-w/-W cannot be combined with -S or -F".into());
        }
        // A directory watch covers its subtree (AUDIT_DIR); auditctl decides by stat.
        let is_dir = std::fs::metadata(&path)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        let field = if is_dir { fields::DIR } else { fields::WATCH };
        rule.flags = FILTER_EXIT;
        rule.action = ACTION_ALWAYS;
        rule.set_all_syscalls();
        rule.fields.push(RuleField {
            field,
            op: 0x4000_0000,
            value: FieldValue::Str(path),
        });
        rule.fields.push(RuleField {
            field: fields::PERM,
            op: 0x4000_0000,
            value: FieldValue::Num(perm.unwrap_or(15)),
        });
    } else {
        if let Some(p) = perm {
            push_field(
                &mut rule,
                RuleField {
                    field: fields::PERM,
                    op: 0x4000_0000,
                    value: FieldValue::Num(p),
                },
            )?;
        }
        if !saw_syscall && matches!(rule.list(), FILTER_EXIT | FILTER_URING_EXIT) {
            rule.set_all_syscalls();
        }
        if saw_syscall && !matches!(rule.list(), FILTER_EXIT | FILTER_URING_EXIT) {
            return Err("-S only applies to the exit and io_uring lists".into());
        }
    }
    if !keys.is_empty() {
        let joined = keys.join("\x01");
        if joined.len() > 256 {
            return Err("keys longer than 256 bytes together".into());
        }
        push_field(
            &mut rule,
            RuleField {
                field: fields::FILTERKEY,
                op: 0x4000_0000,
                value: FieldValue::Str(joined),
            },
        )?;
    }
    Ok(Directive::Rule { op, rule })
}

fn set_op(op: &mut Option<RuleOp>, new: RuleOp) -> Result<(), String> {
    if op.is_some() {
        return Err("more than one of -a, -A, -d, -w, -W in one rule".into());
    }
    *op = Some(new);
    Ok(())
}

fn check_key(k: &str) -> Result<(), String> {
    if k.is_empty() || k.len() > 256 {
        return Err(format!("key {k:?} must be 1 to 256 bytes"));
    }
    // The kernel joins a rule's keys with \x01, and a control character in
    // a key would garble every log line naming it (found by the rule_parse
    // fuzz target: `-k "\x01-f"` listed back as two keys).
    if let Some(c) = k.chars().find(|c| c.is_control()) {
        return Err(format!("key {k:?} holds a control character ({:?})", c));
    }
    Ok(())
}

fn push_field(rule: &mut KernelRule, f: RuleField) -> Result<(), String> {
    if rule.fields.len() >= 64 {
        return Err("more than 64 fields in one rule".into());
    }
    rule.fields.push(f);
    Ok(())
}

fn list_action(spec: &str) -> Result<(u32, u32), String> {
    let (a, b) = spec
        .split_once(',')
        .ok_or_else(|| format!("{spec:?}: expected LIST,ACTION (e.g. always,exit)"))?;
    let list = |s: &str| match s {
        "exit" => Some(FILTER_EXIT),
        "task" => Some(FILTER_TASK),
        "user" => Some(FILTER_USER),
        "exclude" => Some(FILTER_EXCLUDE),
        "filesystem" => Some(FILTER_FS),
        "io_uring" => Some(FILTER_URING_EXIT),
        _ => None,
    };
    let action = |s: &str| match s {
        "always" => Some(ACTION_ALWAYS),
        "never" => Some(ACTION_NEVER),
        _ => None,
    };
    if a == "entry" || b == "entry" {
        return Err("the entry list is gone from the kernel; use exit".into());
    }
    match (list(a), action(b), action(a), list(b)) {
        (Some(l), Some(x), _, _) | (_, _, Some(x), Some(l)) => Ok((l, x)),
        _ => Err(format!("{spec:?}: unknown list or action (lists: exit, task, user, exclude, filesystem, io_uring; actions: always, never)")),
    }
}

/// `name OP value`.
fn split_expr(expr: &str) -> Result<(&str, u32, &str), String> {
    let at = expr
        .find(['=', '!', '<', '>', '&'])
        .ok_or_else(|| format!("{expr:?}: expected NAME OP VALUE"))?;
    let (name, rest) = expr.split_at(at);
    for &(text, op) in fields::OPERATORS {
        if let Some(value) = rest.strip_prefix(text) {
            if name.is_empty() || value.is_empty() {
                return Err(format!("{expr:?}: expected NAME OP VALUE"));
            }
            return Ok((name, op, value));
        }
    }
    Err(format!("{expr:?}: unknown operator"))
}

fn number(value: &str) -> Option<u32> {
    let (neg, v) = match value.strip_prefix('-') {
        Some(v) => (true, v),
        None => (false, value),
    };
    // As strtol with base 0 (auditctl): 0x.. hex, 0.. octal, else decimal.
    let n: i64 = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if v.len() > 1 && v.starts_with('0') {
        i64::from_str_radix(&v[1..], 8).ok()?
    } else {
        v.parse().ok()?
    };
    let n = if neg { -n } else { n };
    if n < i32::MIN as i64 || n > u32::MAX as i64 {
        return None;
    }
    Some(n as u32)
}

fn field_value(
    kind: Kind,
    field: u32,
    op: u32,
    value: &str,
    names: &Names,
) -> Result<FieldValue, String> {
    let eq_only = |what: &str| -> Result<(), String> {
        if op != 0x4000_0000 && op != 0x3000_0000 {
            return Err(format!("{what} only takes = or !="));
        }
        Ok(())
    };
    let n = match kind {
        Kind::Str => {
            eq_only(fields::by_number(field).map_or("this field", |f| f.0))?;
            if matches!(field, fields::WATCH | fields::DIR) && !value.starts_with('/') {
                return Err(format!("path {value:?} must be absolute"));
            }
            return Ok(FieldValue::Str(value.to_string()));
        }
        Kind::Num => number(value).ok_or_else(|| format!("{value:?} is not a number"))?,
        Kind::Uid => match value {
            "unset" => u32::MAX,
            v => number(v)
                .or_else(|| names.users.get(v).copied())
                .ok_or_else(|| format!("unknown user {v:?}"))?,
        },
        Kind::Gid => number(value)
            .or_else(|| names.groups.get(value).copied())
            .ok_or_else(|| format!("unknown group {value:?}"))?,
        Kind::Exit => match number(value) {
            Some(n) => n,
            None => {
                let (neg, name) = value
                    .strip_prefix('-')
                    .map_or((false, value), |v| (true, v));
                let e = errno_number(name)
                    .ok_or_else(|| format!("{value:?} is not a number or errno name"))?
                    as i32;
                (if neg { -e } else { e }) as u32
            }
        },
        Kind::Arch => {
            eq_only("arch")?;
            Arch::from_rule_name(value)
                .ok_or_else(|| format!("unknown arch {value:?}"))?
                .audit_id()
        }
        Kind::Perm => {
            eq_only("perm")?;
            fields::perm_bits(value)
                .ok_or_else(|| format!("permission {value:?} is not a combination of r, w, x, a"))?
        }
        Kind::FileType => fields::FILE_TYPES
            .iter()
            .find(|t| t.0 == value)
            .map(|t| t.1)
            .or_else(|| number(value))
            .ok_or_else(|| format!("unknown file type {value:?}"))?,
        Kind::MsgType => audex_parse::RecordType::from_name(value.as_bytes())
            .map(|t| t.0)
            .or_else(|| number(value))
            .ok_or_else(|| format!("unknown record type {value:?}"))?,
        Kind::FsType => fields::FS_TYPES
            .iter()
            .find(|t| t.0 == value)
            .map(|t| t.1)
            .or_else(|| number(value))
            .ok_or_else(|| format!("unknown filesystem type {value:?} (debugfs, tracefs)"))?,
        Kind::Compare => return Err("use -C for field comparisons".into()),
    };
    Ok(FieldValue::Num(n))
}
