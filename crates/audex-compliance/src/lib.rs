//! Compliance on top of the pipeline.
//!
//! - [`packs`]: rule packs shipped with audex (auditctl syntax) and the table
//!   mapping their rule keys to control ids ([`controls`]), which puts
//!   `controls[]` on events.
//! - [`verify`]: checks a hash-chained protobuf archive for altered, removed,
//!   reordered and truncated events and replaced segments.
//! - [`report`]: a compliance report (HTML, Markdown, JSON) from archives.
pub mod controls;
pub mod packs;
pub mod report;
pub mod time;
pub mod verify;
