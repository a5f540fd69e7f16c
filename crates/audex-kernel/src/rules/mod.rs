//! Rules in auditctl syntax: parse ([`syntax`]), encode to and decode from the
//! kernel's `audit_rule_data` ([`kernel_rule`]), field names and value kinds
//! ([`fields`]), and load / list / delete over netlink ([`ops`]).

pub mod fields;
pub mod kernel_rule;
pub mod ops;
pub mod syntax;

pub use kernel_rule::{FieldValue, KernelRule, RuleField};
pub use ops::{LoadReport, RuleSet};
pub use syntax::{parse_file_text, Directive, Parsed, RuleError, RuleOp};
