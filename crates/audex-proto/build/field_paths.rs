//! Generates `field_paths.rs`: the event contract's field paths
//! (`process.args`, `files.path`, ...) read from `AuditEvent` in event.proto,
//! with code that visits the text at a path, gives the text list at a path and
//! empties a path. Redaction (audex-policy) uses it, so a field added to the
//! proto is a redactable path without a second list to keep.
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};
use std::fmt::Write;

/// Fields audex sets on each copy after redaction (a rate limit's marker
/// is made for its tenant), or that the archive's chain needs: not paths a
/// tenant may redact.
const NOT_REDACTABLE: &[&str] = &[
    "suppressed",
    "tenant",
    "redacted",
    "truncated",
    "record_count",
    "controls",
    "chain",
];

/// What a path holds, as the generated code treats it.
enum Leaf {
    /// A string: visited, emptied.
    Text,
    /// A repeated string: each visited; a text list.
    TextList,
    /// A map of strings: each value visited.
    TextMap,
    /// Anything else (number, bool, bytes, time): emptied only.
    Other,
    /// A message: emptied whole; its fields are paths of their own.
    Message(String),
    /// A repeated message: emptied whole; its fields are paths (each element).
    Messages(String),
}

/// One step from the event to a field: a field name and whether it is an
/// optional message (`Option`) or a repeated one (`Vec`).
#[derive(Clone)]
enum Step {
    Opt(String),
    Vec(String),
}

struct Path {
    name: String,
    steps: Vec<Step>,
    field: String,
    leaf: Leaf,
}

fn rust_name(field: &str) -> String {
    match field {
        "type" | "ref" | "mod" | "match" | "fn" | "box" => format!("r#{field}"),
        _ => field.to_string(),
    }
}

fn leaf_of(f: &FieldDescriptorProto, set: &FileDescriptorSet) -> Leaf {
    let repeated = f.label() == Label::Repeated;
    match f.r#type() {
        Type::String if repeated => Leaf::TextList,
        Type::String => Leaf::Text,
        Type::Message => {
            let name = f.type_name().trim_start_matches('.').to_string();
            if name.starts_with("google.protobuf.") {
                return Leaf::Other;
            }
            let msg = message(set, &name);
            if msg.options.as_ref().is_some_and(|o| o.map_entry()) {
                return Leaf::TextMap;
            }
            if repeated {
                Leaf::Messages(name)
            } else {
                Leaf::Message(name)
            }
        }
        _ => Leaf::Other,
    }
}

fn message<'a>(set: &'a FileDescriptorSet, full: &str) -> &'a DescriptorProto {
    for file in &set.file {
        let package = file.package();
        for m in &file.message_type {
            if format!("{package}.{}", m.name()) == full {
                return m;
            }
            for n in &m.nested_type {
                if format!("{package}.{}.{}", m.name(), n.name()) == full {
                    return n;
                }
            }
        }
    }
    panic!("message {full} not found in the descriptors");
}

fn walk(
    set: &FileDescriptorSet,
    msg: &DescriptorProto,
    prefix: &str,
    steps: &[Step],
    out: &mut Vec<Path>,
) {
    for f in &msg.field {
        let name = f.name();
        if steps.is_empty() && NOT_REDACTABLE.contains(&name) {
            continue;
        }
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        let leaf = leaf_of(f, set);
        let inner = match &leaf {
            Leaf::Message(m) => Some((m.clone(), Step::Opt(rust_name(name)))),
            Leaf::Messages(m) => Some((m.clone(), Step::Vec(rust_name(name)))),
            _ => None,
        };
        out.push(Path {
            name: path.clone(),
            steps: steps.to_vec(),
            field: rust_name(name),
            leaf,
        });
        if let Some((m, step)) = inner {
            let mut deeper = steps.to_vec();
            deeper.push(step);
            walk(set, message(set, &m), &path, &deeper, out);
        }
    }
}

/// `body` (an expression over `x`) for each place the steps reach from `ev`,
/// OR-ed: true when any place changed.
fn navigate(steps: &[Step], body: &str) -> String {
    fn go(steps: &[Step], at: &str, depth: usize, body: &str) -> String {
        match steps.split_first() {
            None => body.replace("X", at),
            Some((Step::Opt(f), rest)) => {
                let v = format!("x{depth}");
                format!(
                    "{at}.{f}.as_mut().is_some_and(|{v}| {})",
                    go(rest, &v, depth + 1, body)
                )
            }
            Some((Step::Vec(f), rest)) => {
                let v = format!("x{depth}");
                format!(
                    "{{ let mut c = false; for {v} in &mut {at}.{f} {{ c |= {}; }} c }}",
                    go(rest, &v, depth + 1, body)
                )
            }
        }
    }
    go(steps, "ev", 0, body)
}

pub fn generate(set: &FileDescriptorSet) -> String {
    let mut paths = Vec::new();
    walk(
        set,
        message(set, "audex.v1.AuditEvent"),
        "",
        &[],
        &mut paths,
    );
    let mut text = Vec::new();
    let mut other = Vec::new();
    let mut visit = String::new();
    let mut list = String::new();
    let mut clear = String::new();
    for p in &paths {
        let f = &p.field;
        let (is_text, visit_body) = match &p.leaf {
            Leaf::Text => (true, Some(format!("one(&mut X.{f})"))),
            Leaf::TextList => (
                true,
                Some(format!(
                    "{{ let mut c = false; for s in &mut X.{f} {{ c |= one(s); }} c }}"
                )),
            ),
            Leaf::TextMap => (
                true,
                Some(format!(
                    "{{ let mut c = false; for s in X.{f}.values_mut() {{ c |= one(s); }} c }}"
                )),
            ),
            _ => (false, None),
        };
        if is_text {
            text.push(p.name.clone());
        } else {
            other.push(p.name.clone());
        }
        if let Some(b) = visit_body {
            let _ = writeln!(visit, "        {:?} => {},", p.name, navigate(&p.steps, &b));
        }
        if matches!(p.leaf, Leaf::TextList) {
            // A list is reached through optional messages only (never inside a
            // repeated one: there is no single list then).
            if p.steps.iter().all(|s| matches!(s, Step::Opt(_))) {
                let mut expr = "Some(ev)".to_string();
                for s in &p.steps {
                    if let Step::Opt(n) = s {
                        expr = format!("{expr}.and_then(|x| x.{n}.as_mut())");
                    }
                }
                let _ = writeln!(list, "        {:?} => {expr}.map(|x| &mut x.{f}),", p.name);
            }
        }
        let _ = writeln!(
            clear,
            "        {:?} => {},",
            p.name,
            navigate(&p.steps, &format!("take(&mut X.{f})"))
        );
    }
    let mut out = String::new();
    out.push_str(
        "// Generated by build/field_paths.rs from proto/audex/v1/event.proto: do not edit.\n\n",
    );
    let _ = writeln!(out, "/// Paths that hold text (a string, a list or a map of strings).\npub const TEXT_PATHS: &[&str] = &{text:?};\n");
    let _ = writeln!(out, "/// Paths that hold something else (numbers, times, whole parts).\npub const OTHER_PATHS: &[&str] = &{other:?};\n");
    let _ = write!(
        out,
        "/// Calls `one` on each text at `path` (a text path); true when any call\n/// said it changed the text. False for paths that hold no text.\npub fn visit_text(ev: &mut AuditEvent, path: &str, one: &mut dyn FnMut(&mut String) -> bool) -> bool {{\n    match path {{\n{visit}        _ => false,\n    }}\n}}\n\n"
    );
    let _ = write!(
        out,
        "/// The list of text at `path`, when it is one (argv, keys, syscall args).\npub fn text_list<'a>(ev: &'a mut AuditEvent, path: &str) -> Option<&'a mut Vec<String>> {{\n    match path {{\n{list}        _ => None,\n    }}\n}}\n\n"
    );
    let _ = write!(
        out,
        "/// Empties what `path` holds; true when there was something. False for a\n/// path that is not in the contract.\npub fn clear(ev: &mut AuditEvent, path: &str) -> bool {{\n    fn take<T: Default + PartialEq>(v: &mut T) -> bool {{\n        let had = *v != T::default();\n        *v = T::default();\n        had\n    }}\n    match path {{\n{clear}        _ => false,\n    }}\n}}\n"
    );
    out
}
