//! EXECVE argv: joins `aN` and split `aN[i]` parts across all EXECVE records.
use audex_parse::Record;

/// The full argv of the EXECVE records, each argument hex-decoded.
pub fn argv<'a>(records: impl Iterator<Item = &'a Record>) -> Vec<String> {
    let mut args: Vec<Vec<u8>> = Vec::new();
    let mut argc: Option<usize> = None;
    for r in records {
        for (key, val, _) in r.fields() {
            if key == b"argc" {
                argc = val.as_u64().map(|n| n as usize);
                continue;
            }
            let Some(rest) = key.strip_prefix(b"a") else {
                continue;
            };
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                continue;
            }
            let Some(idx) = std::str::from_utf8(&rest[..digits])
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            else {
                continue;
            };
            let tail = &rest[digits..];
            if tail.starts_with(b"_len") {
                continue;
            }
            if idx > 1 << 20 {
                continue;
            }
            if args.len() <= idx {
                args.resize(idx + 1, Vec::new());
            }
            // `aN` whole, or `aN[i]` parts in index order (the kernel writes them in order).
            val.decode_into(&mut args[idx]);
        }
    }
    if let Some(n) = argc {
        if args.len() < n && n <= 1 << 20 {
            args.resize(n, Vec::new());
        }
    }
    args.into_iter()
        .map(|a| {
            String::from_utf8(a)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        })
        .collect()
}
