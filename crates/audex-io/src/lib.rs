//! Hostile-input plumbing shared by every stage that reads files or prints text
//! it did not write. Takes paths, readers and strings; gives bounded reads,
//! escaped text, whether a user may reach a path it names ([`access`]),
//! and who is at the other end of a local socket ([`peer`]). No stage reads
//! a file an operator named through anything else.
pub mod access;
mod escape;
mod lines;
pub mod peer;
mod regular;

pub use escape::{escape, Escaped};
pub use lines::{read_line, with_line, Line};
pub use regular::{open_regular, read_limited, FileKind};
