//! EXECVE argv: joins `aN` and split `aN[i]` parts across all EXECVE records.
use audex_parse::Record;

/// Parses `aN`, `aN[i]` (and `aN_len`, skipped) keys: the argument index and
/// whether the key is a part of a split argument.
fn arg_index(key: &[u8]) -> Option<(usize, bool)> {
    let rest = key.strip_prefix(b"a")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 7 {
        return None;
    }
    let idx = rest[..digits]
        .iter()
        .fold(0usize, |n, d| n * 10 + (d - b'0') as usize);
    match &rest[digits..] {
        [] => Some((idx, false)),
        [b'[', .., b']'] => Some((idx, true)),
        _ => None, // aN_len
    }
}

/// The full argv of the EXECVE records, each argument hex-decoded.
pub fn argv<'a>(records: impl Iterator<Item = &'a Record>) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    for r in records {
        for (key, val, _) in r.fields() {
            if key == b"argc" {
                if let Some(n) = val.as_u64().filter(|&n| n <= 1 << 16) {
                    args.reserve(n as usize);
                }
                continue;
            }
            let Some((idx, part)) = arg_index(key) else {
                continue;
            };
            if idx >= args.len() {
                if idx > 1 << 20 {
                    continue;
                }
                args.resize(idx + 1, String::new());
            }
            // `aN` whole, or `aN[i]` parts in index order (the kernel writes them in order).
            let arg = &mut args[idx];
            match val.text() {
                Some(t) if !part && arg.is_empty() => *arg = t.into_owned(),
                Some(t) => arg.push_str(&t),
                None => {}
            }
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices() {
        assert_eq!(arg_index(b"a0"), Some((0, false)));
        assert_eq!(arg_index(b"a12[3]"), Some((12, true)));
        assert_eq!(arg_index(b"a3_len"), None);
        assert_eq!(arg_index(b"argc"), None);
    }
}
