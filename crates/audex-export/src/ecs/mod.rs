//! Elastic Common Schema: the fields of an event ([`fields`]) and a whole
//! document per event ([`document`]) for the `jsonl` exporter's `format: ecs`
//! and `audex replay --format ecs`.
mod document;
mod fields;

pub use document::{ecs_document, ecs_line};
pub use fields::{
    base_name, category_and_type, permissions, subject_file, visit_ecs, Context, Permissions,
    ECS_VERSION,
};
