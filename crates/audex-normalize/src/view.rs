//! One pass over a record's fields into the slots the normalizer reads, instead
//! of a linear search per field (a SYSCALL record has ~27 fields, read ~25 times).
use audex_parse::{Origin, Record, Value};

macro_rules! view {
    ($(#[$doc:meta])* $name:ident { $($field:ident = $key:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Default)]
        pub(crate) struct $name<'a> {
            $(pub $field: Option<Value<'a>>,)*
        }

        impl<'a> $name<'a> {
            /// The first kernel or message value of each field (ENRICHED ignored).
            pub fn of(r: &'a Record) -> Self {
                let mut v = Self::default();
                // Values made only for the slots (a PATH record has 15
                // fields, of which 9 are read).
                for f in r.field_refs() {
                    if f.origin() == Origin::Enriched {
                        continue;
                    }
                    // Whether the slot's key is hex-encoded is decided here
                    // at compile time, not per value.
                    let (slot, encoded) = match f.key {
                        $($key => (&mut v.$field, const { audex_parse::is_encoded_field($key) }),)*
                        _ => continue,
                    };
                    if slot.is_none() {
                        *slot = Some(f.value_of_key(encoded));
                    }
                }
                v
            }
        }
    };
}

view!(
    /// Fields of a SYSCALL record or the defining record of a user-space event.
    SubjectView {
        arch = b"arch", syscall = b"syscall", success = b"success", exit = b"exit",
        a0 = b"a0", a1 = b"a1", a2 = b"a2", a3 = b"a3",
        pid = b"pid", ppid = b"ppid",
        auid = b"auid", uid = b"uid", gid = b"gid", euid = b"euid", suid = b"suid", fsuid = b"fsuid",
        egid = b"egid", sgid = b"sgid", fsgid = b"fsgid", ses = b"ses", tty = b"tty",
        comm = b"comm", exe = b"exe", subj = b"subj", key = b"key", cwd = b"cwd",
    }
);

view!(
    /// Fields of a PATH record.
    PathView {
        item = b"item", name = b"name", inode = b"inode", dev = b"dev", mode = b"mode",
        ouid = b"ouid", ogid = b"ogid", nametype = b"nametype", obj = b"obj",
    }
);

/// Decoded text of a slot.
pub(crate) fn text(v: &Option<Value<'_>>) -> Option<String> {
    v.as_ref().and_then(|v| v.text()).map(|c| c.into_owned())
}

/// Decimal value of a slot.
pub(crate) fn num(v: &Option<Value<'_>>) -> Option<u64> {
    v.as_ref().and_then(|v| v.as_u64())
}

/// A 32-bit id (uid, gid, pid, session) of a slot: `None` when absent or unset
/// (4294967295); a value that is not a number or does not fit 32 bits is never
/// wrapped: it is left out and `key=raw` goes to `bad`.
pub(crate) fn num32(v: &Option<Value<'_>>, key: &str, bad: &mut Vec<String>) -> Option<u32> {
    let v = v.as_ref()?;
    match v.as_u64() {
        Some(n) if n == u64::from(u32::MAX) => None,
        Some(n) if n < u64::from(u32::MAX) => Some(n as u32),
        _ => {
            not_an_id(v, key, bad);
            None
        }
    }
}

/// `key=raw` (at most 40 characters of it) into `bad`. Apart and cold, so
/// that `num32`, called for a dozen ids an event, sets up no frame for the
/// `format!` it almost never runs.
#[cold]
#[inline(never)]
fn not_an_id(v: &Value<'_>, key: &str, bad: &mut Vec<String>) {
    let shown: String = v.raw_str().chars().take(40).collect();
    bad.push(format!("{key}={shown}"));
}
