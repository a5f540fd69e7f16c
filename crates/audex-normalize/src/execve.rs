//! EXECVE argv: joins `aN` and split `aN[i]` parts across all EXECVE records.
use audex_parse::Record;
use std::collections::BTreeMap;

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

/// A split argument's parts as the records gave them.
#[derive(Default)]
struct Split {
    /// (part index, decoded text, length as logged: the kernel's `aN_len`
    /// counts hex digits when the parts are hex-encoded).
    parts: Vec<(usize, String, usize)>,
    len: Option<usize>,
}

/// The full argv of the EXECVE records, each argument hex-decoded. Split
/// arguments (`aN[i]`) are assembled by part index, whatever order the records
/// came in; a part that never came is marked `[missing aN[i]]` (and a missing
/// end `[missing end of aN]`, from `aN_len`); a part given twice counts once.
///
/// Whole arguments go into a vector by index, which becomes the result;
/// only split ones (rare) are kept apart. Per-argument slots holding both
/// kinds cost a default, a move and a match per argument: without them
/// `replay --format proto` on the auditd storm capture (65,000 records, 36
/// arguments an exec) took 582.1 M instructions instead of 588.9 M
/// (cachegrind).
pub fn argv<'a>(records: impl Iterator<Item = &'a Record>) -> Vec<String> {
    // `None`: not given (a gap), or given as no text (`(null)`), which a
    // later whole value of the same index may fill.
    let mut whole: Vec<Option<String>> = Vec::new();
    // Every index a part or a length names, so that it counts in the
    // argv's length even when it gives no text.
    let mut split: BTreeMap<usize, Split> = BTreeMap::new();
    for r in records {
        for (key, val, _) in r.fields() {
            if key == b"argc" {
                if let Some(n) = val.as_u64().filter(|&n| n <= 1 << 16) {
                    whole.reserve(n as usize);
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
            match k {
                // A whole argument given twice counts once, the first.
                ArgKey::Whole(i) if i == whole.len() => {
                    whole.push(val.text().map(|t| t.into_owned()));
                }
                ArgKey::Whole(i) => {
                    if i > whole.len() {
                        whole.resize_with(i + 1, || None);
                    }
                    if whole[i].is_none() {
                        whole[i] = val.text().map(|t| t.into_owned());
                    }
                }
                ArgKey::Len(i) => {
                    split.entry(i).or_default().len = val.as_u64().map(|n| n as usize)
                }
                ArgKey::Part(i, part) => {
                    let arg = split.entry(i).or_default();
                    if let Some(t) = val.text() {
                        if part < 1 << 16 && !arg.parts.iter().any(|(p, _, _)| *p == part) {
                            arg.parts.push((part, t.into_owned(), val.raw_str().len()));
                        }
                    }
                }
            }
        }
    }
    let mut args: Vec<String> = whole.into_iter().map(Option::unwrap_or_default).collect();
    if let Some((&last, _)) = split.last_key_value() {
        args.resize_with(args.len().max(last + 1), String::new);
    }
    for (i, a) in split {
        // A split argument is its parts (a length alone leaves the whole one).
        if !a.parts.is_empty() {
            args[i] = assemble(i, a);
        }
    }
    args
}

fn assemble(i: usize, mut a: Split) -> String {
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

    /// EXECVE records of one event, one per body.
    fn records(bodies: &[&str]) -> Vec<Record> {
        bodies
            .iter()
            .map(|b| format!("type=EXECVE msg=audit(1.000:5): {b}"))
            .map(|l| audex_parse::parse_line(l.as_bytes()).unwrap())
            .collect()
    }

    #[test]
    fn parts_by_index_whatever_the_order() {
        let recs = records(&[
            "argc=2 a0=\"x\" a1_len=3",
            "a1[2]=\"C\"",
            "a1[0]=\"A\"",
            "a1[1]=\"B\"",
            "a1[1]=\"B\"",
        ]);
        assert_eq!(argv(recs.iter()), vec!["x", "ABC"]);
    }

    #[test]
    fn missing_parts_are_marked() {
        let recs = records(&["argc=2 a0=\"x\" a1_len=4", "a1[0]=\"A\"", "a1[2]=\"C\""]);
        assert_eq!(
            argv(recs.iter()),
            vec!["x", "A[missing a1[1]]C[missing end of a1]"]
        );
    }

    /// One EXECVE key of a small set: whole, part, length, argc, duplicates,
    /// gaps, a value that is not text, and a key that is not an argument.
    fn key_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        (0usize..5, 0usize..4, 0u8..7).prop_map(|(a, p, kind)| match kind {
            0..=2 => format!("a{a}=\"w{a}\""),
            3 => format!("a{a}[{p}]=\"p{a}.{p}\""),
            4 => format!("a{a}_len={}", p * 3),
            5 => format!("a{a}=(null)"),
            _ => "argc=3 other=1".to_string(),
        })
    }

    /// The argv by per-argument slots holding whole values, parts and
    /// lengths alike (how `argv` worked before it kept whole arguments
    /// apart): the reference the property below holds `argv` to.
    fn slots_argv(recs: &[Record]) -> Vec<String> {
        #[derive(Default)]
        struct Arg {
            whole: Option<String>,
            split: Split,
        }
        let mut args: Vec<Arg> = Vec::new();
        for (key, val, _) in recs.iter().flat_map(|r| r.fields()) {
            let Some(k) = arg_key(key) else { continue };
            let (ArgKey::Whole(i) | ArgKey::Part(i, _) | ArgKey::Len(i)) = k;
            if i > 1 << 20 {
                continue;
            }
            if i >= args.len() {
                args.resize_with(i + 1, Arg::default);
            }
            let arg = &mut args[i];
            match k {
                ArgKey::Len(_) => arg.split.len = val.as_u64().map(|n| n as usize),
                ArgKey::Whole(_) if arg.whole.is_none() => {
                    arg.whole = val.text().map(|t| t.into_owned())
                }
                ArgKey::Whole(_) => {}
                ArgKey::Part(_, part) => {
                    if let Some(t) = val.text() {
                        let parts = &mut arg.split.parts;
                        if part < 1 << 16 && !parts.iter().any(|(p, _, _)| *p == part) {
                            parts.push((part, t.into_owned(), val.raw_str().len()));
                        }
                    }
                }
            }
        }
        args.into_iter()
            .enumerate()
            .map(|(i, a)| match a.split.parts.is_empty() {
                true => a.whole.unwrap_or_default(),
                false => assemble(i, a.split),
            })
            .collect()
    }

    proptest::proptest! {
        /// Whole arguments in order go straight into the result; whatever
        /// comes, the result is what the per-argument slots give.
        #[test]
        fn the_plain_path_gives_what_the_slots_give(
            lines in proptest::collection::vec(proptest::collection::vec(key_strategy(), 1..8), 1..4)
        ) {
            let bodies: Vec<String> = lines.iter().map(|keys| keys.join(" ")).collect();
            let recs = records(&bodies.iter().map(String::as_str).collect::<Vec<_>>());
            proptest::prop_assert_eq!(argv(recs.iter()), slots_argv(&recs));
        }
    }

    #[test]
    fn whole_arguments_in_order_then_a_gap_and_a_part() {
        let recs = records(&[
            "argc=4 a0=\"x\" a1=\"y\" a0=\"dup\" a3=\"z\"",
            "a1[0]=\"P\"",
        ]);
        assert_eq!(argv(recs.iter()), vec!["x", "P", "", "z"]);
    }
}
