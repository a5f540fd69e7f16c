//! Filters, tenant routing and redaction (DESIGN.md: filter → route → redact).
//! Pure: no I/O, no tokio; keys and patterns come in as values.
//!
//! Input: enriched [`AuditEvent`]s and the tenants of the config. Output: for
//! each event, the tenant it belongs to (first match wins, else `default`, else
//! none) and that tenant's copy of it, redacted by the tenant's policy, with
//! every change listed in `redacted[]`.
//!
//! [`AuditEvent`]: audex_proto::v1::AuditEvent
#![forbid(unsafe_code)]
pub mod argv;
pub mod fields;
mod filter;
mod fold;
mod hold_back;
mod labels;
pub mod local_view;
mod matcher;
mod policy;
pub mod reach;
mod redact;
pub mod secrets;
mod selector;
mod throttle;

pub use argv::ArgvLimit;
pub use filter::{Filter, FilterSpec, Take, FIRST_PER_PROCESS_CAPACITY};
pub use fold::{Folder, MAX_OPEN_GROUPS};
pub use hold_back::HoldBack;
pub use labels::{LabelSet, LabelSpec, Labels, MAX_LABELS};
pub use matcher::{glob, Matcher};
pub use policy::{Policy, TenantSpec};
pub use redact::{HashKey, MaskSpec, PidPolicy, RedactSpec};
pub use selector::{
    check_address, check_path_pattern, check_vocabulary, EventView, Selector, SelectorSpec,
};
pub use throttle::{RateLimitSpec, Throttle, MARKER_PERIOD_NS};
