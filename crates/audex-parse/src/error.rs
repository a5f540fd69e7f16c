//! Parse errors that keep the offending input so a user can see what broke.
use std::fmt;

/// What was wrong with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// Blank line or only whitespace.
    Empty,
    /// No `type=` field where a log line must start with one.
    MissingType,
    /// `type=` value is neither a known name nor `UNKNOWN[n]`.
    BadType,
    /// No `msg=audit(` header.
    MissingHeader,
    /// The `audit(SECONDS.MILLIS:SERIAL):` stamp is malformed.
    BadTimestamp,
    /// The line is larger than the parser accepts.
    TooLong,
    /// The stamp's seconds are past year 9999 (no date type holds them).
    TimeOutOfRange,
}

impl ParseErrorKind {
    fn describe(self) -> &'static str {
        match self {
            ParseErrorKind::Empty => "empty line",
            ParseErrorKind::MissingType => "no type= field",
            ParseErrorKind::BadType => "unknown record type name",
            ParseErrorKind::MissingHeader => "no msg=audit(...) header",
            ParseErrorKind::BadTimestamp => "malformed audit(SECONDS.MILLIS:SERIAL) stamp",
            ParseErrorKind::TooLong => "record longer than the 1 MiB limit",
            ParseErrorKind::TimeOutOfRange => "audit time past the year 9999",
        }
    }
}

/// A line that could not be parsed, with the bytes that broke it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
    /// The input (capped at 4 KiB).
    pub input: Box<[u8]>,
}

pub(crate) const MAX_KEPT: usize = 4096;

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind, offset: usize, input: &[u8]) -> Self {
        let kept = &input[..input.len().min(MAX_KEPT)];
        ParseError {
            kind,
            offset,
            input: kept.into(),
        }
    }
}

impl ParseError {
    /// A line longer than [`crate::MAX_RECORD_BYTES`] (only its start is kept).
    pub fn too_long(start: &[u8]) -> Self {
        ParseError::new(ParseErrorKind::TooLong, crate::MAX_RECORD_BYTES, start)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.input[..self.input.len().min(200)];
        write!(
            f,
            "{} at byte {}: {:?}{}",
            self.kind.describe(),
            self.offset,
            String::from_utf8_lossy(shown),
            if self.input.len() > 200 { "..." } else { "" }
        )
    }
}
