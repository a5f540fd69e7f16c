//! The event contract's field paths (`process.args`, `files[].path`, ...) as
//! places in an [`AuditEvent`]: which exist, which hold text, and visiting or
//! clearing them. The paths and the code that reaches them are generated from
//! event.proto ([`audex_proto::field_paths`]); here: `files[].x` spelling,
//! globs, `data.KEY` and `records` as text.
use audex_proto::v1::AuditEvent;

/// What a path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text (or a list or map of text): can be dropped, hashed and masked.
    Text,
    /// A number or a whole part of the event: can only be dropped.
    Other,
}

use audex_proto::field_paths::{self as generated, OTHER_PATHS, TEXT_PATHS};

/// `records` is hashed and masked as the text of the raw records (its
/// `records.text`), and dropped whole.
const RECORDS: &str = "records";

/// The contract's paths a glob (`actor.*_name`) names: text paths only when
/// `text_only` (hash, mask), every path for drop.
pub fn matching(pattern: &str, text_only: bool) -> Vec<String> {
    let pattern = canonical(pattern);
    TEXT_PATHS
        .iter()
        .chain(if text_only { &[][..] } else { OTHER_PATHS })
        .filter(|p| crate::glob(&pattern, p))
        .map(|p| p.to_string())
        .collect()
}

/// `files[].path` and `files.path` are the same path.
pub fn canonical(path: &str) -> std::borrow::Cow<'_, str> {
    if path.contains("[]") {
        path.replace("[]", "").into()
    } else {
        path.into()
    }
}

/// What `path` holds, or None when the contract has no such path. `data.KEY`
/// names one entry of `data`.
pub fn kind(path: &str) -> Option<Kind> {
    let p = canonical(path);
    if TEXT_PATHS.contains(&&*p)
        || p == RECORDS
        || p.strip_prefix("data.").is_some_and(|k| !k.is_empty())
    {
        Some(Kind::Text)
    } else if OTHER_PATHS.contains(&&*p) {
        Some(Kind::Other)
    } else {
        None
    }
}

/// Calls `f` on every non-empty text at `path`; true when `f` changed any.
pub fn visit_text(ev: &mut AuditEvent, path: &str, f: &mut dyn FnMut(&mut String) -> bool) -> bool {
    let p = canonical(path);
    let mut one = |s: &mut String| !s.is_empty() && f(s);
    match &*p {
        RECORDS => generated::visit_text(ev, "records.text", &mut one),
        other => match other.strip_prefix("data.") {
            Some(k) => ev.data.get_mut(k).is_some_and(one),
            None => generated::visit_text(ev, other, &mut one),
        },
    }
}

/// The list at `path` when it is a list of text (argv, keys, syscall args).
pub fn text_list<'a>(ev: &'a mut AuditEvent, path: &str) -> Option<&'a mut Vec<String>> {
    generated::text_list(ev, &canonical(path))
}

/// Removes what `path` holds; true when there was something.
pub fn drop(ev: &mut AuditEvent, path: &str) -> bool {
    let p = canonical(path);
    match p.strip_prefix("data.") {
        Some(k) => ev.data.remove(k).is_some(),
        None => generated::clear(ev, &p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_path_is_reachable_and_unknown_ones_are_not() {
        for p in TEXT_PATHS.iter().chain(OTHER_PATHS) {
            assert!(kind(p).is_some(), "{p}");
        }
        assert_eq!(kind("files[].path"), Some(Kind::Text));
        assert_eq!(kind("data.cmd"), Some(Kind::Text));
        assert_eq!(kind("process.pid"), Some(Kind::Other));
        assert_eq!(kind("process.argz"), None);
    }
}
