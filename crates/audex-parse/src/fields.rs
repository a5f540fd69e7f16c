//! The field tokenizer: `key=value` pairs, quoted and hex values, `(null)`,
//! nested `msg='...'`, AVC `avc: denied { perms } for`, LOGIN's `old auid=`.
//!
//! Never fails: words that are not `key=value` are skipped, an unterminated
//! quote runs to the end of the record.
use crate::record::{
    Field, Key, Origin, STATIC_OLD_AUID, STATIC_OLD_SES, STATIC_SEPERMS, STATIC_SERESULT,
};
use crate::scan;
use crate::value::ValueKind;

/// Tokenizes `buf[start..end]` into `out`; returns where it stopped (after the
/// closing `'` inside `msg='...'`). Compiled apart for the inside of
/// `msg='...'` (`NESTED`, `origin` then `Message`) and for the rest, so the
/// kernel records' loop carries no test of the quote (2 % of `replay`'s
/// instructions on the auditd storm capture, cachegrind as in `scan.rs`).
pub(crate) fn tokenize<const NESTED: bool>(
    buf: &[u8],
    start: usize,
    end: usize,
    origin: Origin,
    out: &mut Vec<Field>,
) -> usize {
    debug_assert_eq!(NESTED, origin == Origin::Message);
    // Cut at `end`, so that `i < end` is the slice's own bound and its
    // indexing needs no second check.
    let buf = &buf[..end];
    let end = buf.len();
    let mut i = start;
    let mut after_avc = false;
    let mut old_prefix = false;
    loop {
        while i < end && (buf[i] == b' ' || buf[i] == b'\t') {
            i += 1;
        }
        if i >= end {
            return end;
        }
        if NESTED && buf[i] == b'\'' {
            return i + 1;
        }
        if buf[i] == b'{' {
            // AVC permission list: `{ read write }`.
            let close = scan::until(buf, i + 1, end, b'}', b'}');
            let (s, e) = trim_spaces(buf, i + 1, close);
            out.push(Field {
                key: Key::Static(STATIC_SEPERMS),
                val: (s as u32, e as u32),
                kind: ValueKind::Braced,
                origin,
            });
            i = (close + 1).min(end);
            continue;
        }
        // Old PAM messages wrap fields in parentheses: `(hostname=?, addr=?, terminal=cron res=success)`.
        if NESTED && buf[i] == b'(' && !buf[i..end].starts_with(b"(null)") {
            i += 1;
            continue;
        }
        // Key (or bare word): up to '=', space, or (nested) the closing quote.
        let j = if NESTED {
            let mut j = i;
            while j < end && buf[j] != b'=' && buf[j] != b' ' && buf[j] != b'\'' {
                j += 1;
            }
            j
        } else {
            scan::until(buf, i, end, b'=', b' ')
        };
        if j >= end || buf[j] != b'=' {
            let word = &buf[i..j];
            if after_avc && (word == b"denied" || word == b"granted") {
                out.push(Field {
                    key: Key::Static(STATIC_SERESULT),
                    val: (i as u32, j as u32),
                    kind: ValueKind::Bare,
                    origin,
                });
                after_avc = false;
            } else if word == b"avc:" || word == b"avc" {
                after_avc = true;
            } else if word == b"old" {
                old_prefix = true;
            }
            i = j;
            continue;
        }
        let key_span = (i, j);
        let key = &buf[i..j];
        let mut key_ref = Key::Span(i as u32, j as u32);
        if old_prefix {
            old_prefix = false;
            match key {
                b"auid" => key_ref = Key::Static(STATIC_OLD_AUID),
                b"ses" => key_ref = Key::Static(STATIC_OLD_SES),
                _ => {}
            }
        }
        let v = j + 1;
        if v >= end {
            out.push(Field {
                key: key_ref,
                val: (v.min(end) as u32, end as u32),
                kind: ValueKind::Bare,
                origin,
            });
            return end;
        }
        match buf[v] {
            b'"' => {
                let close = scan::until(buf, v + 1, end, b'"', b'"');
                out.push(Field {
                    key: key_ref,
                    val: ((v + 1) as u32, close as u32),
                    kind: ValueKind::Quoted,
                    origin,
                });
                i = (close + 1).min(end);
            }
            b'\'' if !NESTED && &buf[key_span.0..key_span.1] == b"msg" => {
                let idx = out.len();
                out.push(Field {
                    key: key_ref,
                    val: ((v + 1) as u32, end as u32),
                    kind: ValueKind::Nested,
                    origin,
                });
                let after = tokenize::<true>(buf, v + 1, end, Origin::Message, out);
                let close = if after > v + 1 && buf[after - 1] == b'\'' {
                    after - 1
                } else {
                    after
                };
                out[idx].val.1 = close as u32;
                i = after;
            }
            b'(' if buf[v..end].starts_with(b"(null)") => {
                out.push(Field {
                    key: key_ref,
                    val: (v as u32, (v + 6) as u32),
                    kind: ValueKind::Null,
                    origin,
                });
                i = v + 6;
            }
            _ => {
                let mut e = if NESTED {
                    let mut e = v;
                    while e < end && buf[e] != b' ' && buf[e] != b'\'' {
                        e += 1;
                    }
                    e
                } else {
                    scan::until(buf, v, end, b' ', b' ')
                };
                if key == b"op" {
                    // `op=adding user id=1001`: an op value runs over following words without '='.
                    e = extend_over_words(buf, e, end, NESTED);
                }
                let mut ve = e;
                if NESTED {
                    // ... of the parenthesised form above: `addr=?,` and `res=success)`.
                    while ve > v && (buf[ve - 1] == b',' || buf[ve - 1] == b')') && buf[v] != b'(' {
                        ve -= 1;
                    }
                }
                out.push(Field {
                    key: key_ref,
                    val: (v as u32, ve as u32),
                    kind: ValueKind::Bare,
                    origin,
                });
                // A kernel record's bare value ends at a space (or the end):
                // step over it here, not in the loop's first test of the
                // next field (0.7 % of `replay`'s instructions, cachegrind
                // as in `scan.rs`).
                debug_assert!(NESTED || e == end || buf[e] == b' ');
                i = if !NESTED && e < end { e + 1 } else { e };
            }
        }
    }
}

fn extend_over_words(buf: &[u8], mut e: usize, end: usize, nested: bool) -> usize {
    loop {
        let mut w = e;
        while w < end && buf[w] == b' ' {
            w += 1;
        }
        if w >= end || (nested && buf[w] == b'\'') || buf[w] == b'(' {
            return e;
        }
        let mut we = w;
        while we < end && buf[we] != b' ' && buf[we] != b'=' && !(nested && buf[we] == b'\'') {
            we += 1;
        }
        if we < end && buf[we] == b'=' {
            return e;
        }
        e = we;
    }
}

fn trim_spaces(buf: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && buf[s] == b' ' {
        s += 1;
    }
    while e > s && buf[e - 1] == b' ' {
        e -= 1;
    }
    (s, e)
}
