//! EXECVE argv: joins `aN` and split `aN[i]` parts across all EXECVE records.
use audex_parse::Record;

/// What an EXECVE key names.
#[derive(Debug, PartialEq, Eq)]
enum ArgKey {
    /// `aN`: a whole argument.
    Whole(usize),
    /// `aN[i]`: part `i` of a split argument.
    Part(usize, usize),
    /// `aN_len`: the split argument's length in bytes.
    Len(usize),
}

fn small_number(d: &[u8]) -> Option<usize> {
    if d.is_empty() || d.len() > 7 || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(d.iter().fold(0usize, |n, c| n * 10 + (c - b'0') as usize))
}

fn arg_key(key: &[u8]) -> Option<ArgKey> {
    let rest = key.strip_prefix(b"a")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let idx = small_number(&rest[..digits])?;
    match &rest[digits..] {
        [] => Some(ArgKey::Whole(idx)),
        b"_len" => Some(ArgKey::Len(idx)),
        [b'[', inner @ .., b']'] => Some(ArgKey::Part(idx, small_number(inner)?)),
        _ => None,
    }
}

/// One argument as the records gave it.
#[derive(Default)]
struct Arg {
    whole: Option<String>,
    /// (part index, decoded text, length as logged: the kernel's `aN_len`
    /// counts hex digits when the parts are hex-encoded).
    parts: Vec<(usize, String, usize)>,
    len: Option<usize>,
}

/// The full argv of the EXECVE records, each argument hex-decoded. Split
/// arguments (`aN[i]`) are assembled by part index, whatever order the records
/// came in; a part that never came is marked `[missing aN[i]]` (and a missing
/// end `[missing end of aN]`, from `aN_len`); a part given twice counts once.
pub fn argv<'a>(records: impl Iterator<Item = &'a Record>) -> Vec<String> {
    let mut args: Vec<Arg> = Vec::new();
    for r in records {
        for (key, val, _) in r.fields() {
            if key == b"argc" {
                if let Some(n) = val.as_u64().filter(|&n| n <= 1 << 16) {
                    args.reserve(n as usize);
                }
                continue;
            }
            let Some(k) = arg_key(key) else {
                continue;
            };
            let idx = match k {
                ArgKey::Whole(i) | ArgKey::Part(i, _) | ArgKey::Len(i) => i,
            };
            if idx > 1 << 20 {
                continue;
            }
            if idx >= args.len() {
                args.resize_with(idx + 1, Arg::default);
            }
            let arg = &mut args[idx];
            match k {
                ArgKey::Len(_) => arg.len = val.as_u64().map(|n| n as usize),
                ArgKey::Whole(_) => {
                    if arg.whole.is_none() {
                        arg.whole = val.text().map(|t| t.into_owned());
                    }
                }
                ArgKey::Part(_, part) => {
                    if let Some(t) = val.text() {
                        if part < 1 << 16 && !arg.parts.iter().any(|(p, _, _)| *p == part) {
                            arg.parts.push((part, t.into_owned(), val.raw_str().len()));
                        }
                    }
                }
            }
        }
    }
    args.into_iter()
        .enumerate()
        .map(|(i, a)| assemble(i, a))
        .collect()
}

fn assemble(i: usize, mut a: Arg) -> String {
    if a.parts.is_empty() {
        return a.whole.unwrap_or_default();
    }
    a.parts.sort_unstable_by_key(|(p, _, _)| *p);
    let mut s = String::new();
    let mut next = 0;
    let mut got = 0;
    for (p, t, logged) in &a.parts {
        got += logged;
        while next < *p {
            s.push_str(&format!("[missing a{i}[{next}]]"));
            next += 1;
        }
        s.push_str(t);
        next = p + 1;
    }
    if a.len.is_some_and(|n| got < n) {
        s.push_str(&format!("[missing end of a{i}]"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices() {
        assert_eq!(arg_key(b"a0"), Some(ArgKey::Whole(0)));
        assert_eq!(arg_key(b"a12[3]"), Some(ArgKey::Part(12, 3)));
        assert_eq!(arg_key(b"a3_len"), Some(ArgKey::Len(3)));
        assert_eq!(arg_key(b"a3[x]"), None);
        assert_eq!(arg_key(b"argc"), None);
    }

    fn records(lines: &[&str]) -> Vec<Record> {
        lines
            .iter()
            .map(|l| audex_parse::parse_line(l.as_bytes()).unwrap())
            .collect()
    }

    #[test]
    fn parts_by_index_whatever_the_order() {
        let h = "type=EXECVE msg=audit(1.000:5): ";
        let recs = records(&[
            &format!("{h}argc=2 a0=\"x\" a1_len=3"),
            &format!("{h}a1[2]=\"C\""),
            &format!("{h}a1[0]=\"A\""),
            &format!("{h}a1[1]=\"B\""),
            &format!("{h}a1[1]=\"B\""),
        ]);
        assert_eq!(argv(recs.iter()), vec!["x", "ABC"]);
    }

    #[test]
    fn missing_parts_are_marked() {
        let h = "type=EXECVE msg=audit(1.000:5): ";
        let recs = records(&[
            &format!("{h}argc=2 a0=\"x\" a1_len=4"),
            &format!("{h}a1[0]=\"A\""),
            &format!("{h}a1[2]=\"C\""),
        ]);
        assert_eq!(
            argv(recs.iter()),
            vec!["x", "A[missing a1[1]]C[missing end of a1]"]
        );
    }
}
