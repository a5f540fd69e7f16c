//! serde over the positioned YAML tree: the typed config structs derive
//! `Deserialize`, and this deserializer fills them while it collects every
//! mistake with its line and column instead of stopping at the first. A value
//! of the wrong type, an unknown key or an unknown choice is recorded, and a
//! stand-in (empty, zero, the first choice) goes on, so one run reports all of
//! them. [`Spanned`] keeps a value's position for the checks that come after
//! (`validate`). Input: a [`Node`] and the [`Errors`]. Output: the value.
use super::tree::{kind, Errors, Node};
use saphyr::{Scalar, YamlData};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::Deserialize;
use std::fmt;

/// Reads `T` from `node`; what is wrong goes to `errs` (the value is then a
/// stand-in and must not be used).
pub fn from_node<T: DeserializeOwned + Default>(node: &Node, errs: &Errors) -> T {
    let de = NodeDe {
        node,
        path: String::new(),
        errs,
    };
    T::deserialize(de).unwrap_or_else(|e| {
        if !matches!(e, Error::Reported) {
            errs.at(node, e.to_string());
        }
        T::default()
    })
}

/// A deserialization error: a message not yet recorded, or one that was
/// (then the value that failed is skipped up to where a stand-in can be made).
#[derive(Debug)]
pub enum Error {
    Message(String),
    Reported,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Message(m) => f.write_str(m),
            Error::Reported => f.write_str("(reported)"),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error::Message(msg.to_string())
    }
}

/// A value and where it was written (line from 1, column from 0, as the
/// tree gives them), for checks made after reading. Derefs to the value;
/// equal when the values are (a reload that only moved a line changes nothing).
#[derive(Debug, Clone, Default)]
pub struct Spanned<T> {
    pub value: T,
    pub line: usize,
    pub col: usize,
}

impl<T> Spanned<T> {
    /// A value that was not written (a default): no position.
    pub fn new(value: T) -> Spanned<T> {
        Spanned {
            value,
            line: 0,
            col: 0,
        }
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Spanned<T>) -> bool {
        self.value == other.value
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Display> fmt::Display for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

const SPANNED: &str = "$audex::config::Spanned";
const SPAN_FIELDS: &[&str] = &["$line", "$col", "$value"];

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Spanned<T>, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value with its position")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<Spanned<T>, A::Error> {
                let _: Option<String> = m.next_key()?;
                let line: usize = m.next_value()?;
                let _: Option<String> = m.next_key()?;
                let col: usize = m.next_value()?;
                let _: Option<String> = m.next_key()?;
                let value: T = m.next_value()?;
                Ok(Spanned { value, line, col })
            }
        }
        d.deserialize_struct(SPANNED, SPAN_FIELDS, V(std::marker::PhantomData))
    }
}

/// One node being read, with its path for messages (`tenants[].redact.pid`).
struct NodeDe<'n, 'a, 'e> {
    node: &'n Node<'a>,
    path: String,
    errs: &'e Errors,
}

impl<'n, 'a, 'e> NodeDe<'n, 'a, 'e> {
    fn child(&self, node: &'n Node<'a>, path: String) -> NodeDe<'n, 'a, 'e> {
        NodeDe {
            node,
            path,
            errs: self.errs,
        }
    }

    fn wrong(&self, wanted: &str) {
        self.errs.at(
            self.node,
            format!("`{}` must be {wanted}, not {}", self.path, kind(self.node)),
        );
    }

    fn scalar(&self) -> Option<&Scalar<'a>> {
        match &self.node.data {
            YamlData::Value(s) => Some(s),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self.scalar(), Some(Scalar::Null))
    }

    /// A text value: strings, and whole numbers written bare.
    fn text(&self) -> Option<String> {
        match self.scalar() {
            Some(Scalar::String(s)) => Some(s.to_string()),
            Some(Scalar::Integer(i)) => Some(i.to_string()),
            _ => None,
        }
    }

    fn whole(&self) -> Option<u64> {
        match self.scalar() {
            Some(Scalar::Integer(i)) if *i >= 0 => Some(*i as u64),
            _ => None,
        }
    }

    fn unsigned<'de, V: Visitor<'de>>(self, max: u64, v: V) -> Result<V::Value, Error> {
        match self.whole() {
            Some(n) if n <= max => v.visit_u64(n),
            Some(_) => {
                self.errs
                    .at(self.node, format!("`{}` is too large", self.path));
                v.visit_u64(0)
            }
            None => {
                self.wrong("a whole number ≥ 0");
                v.visit_u64(0)
            }
        }
    }
}

impl<'de> de::Deserializer<'de> for NodeDe<'_, '_, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.node.data {
            YamlData::Mapping(_) => self.deserialize_map(v),
            YamlData::Sequence(_) => self.deserialize_seq(v),
            YamlData::Value(Scalar::Null) => v.visit_unit(),
            YamlData::Value(Scalar::Boolean(b)) => v.visit_bool(*b),
            YamlData::Value(Scalar::Integer(i)) => v.visit_i64(*i),
            YamlData::Value(Scalar::FloatingPoint(f)) => v.visit_f64(f.into_inner()),
            _ => match self.text() {
                Some(s) => v.visit_string(s),
                None => {
                    self.wrong("a value");
                    v.visit_unit()
                }
            },
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.scalar() {
            Some(Scalar::Boolean(b)) => v.visit_bool(*b),
            _ => {
                self.wrong("true or false");
                v.visit_bool(false)
            }
        }
    }

    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.unsigned(u8::MAX.into(), v)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.unsigned(u16::MAX.into(), v)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.unsigned(u32::MAX.into(), v)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.unsigned(u64::MAX, v)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.scalar() {
            Some(Scalar::Integer(i)) => v.visit_i64(*i),
            _ => {
                self.wrong("a whole number");
                v.visit_i64(0)
            }
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.scalar() {
            Some(Scalar::FloatingPoint(f)) => v.visit_f64(f.into_inner()),
            Some(Scalar::Integer(i)) => v.visit_f64(*i as f64),
            _ => {
                self.wrong("a number");
                v.visit_f64(0.0)
            }
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.text() {
            Some(s) => v.visit_string(s),
            None => {
                self.wrong("a string");
                v.visit_string(String::new())
            }
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_string(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        if self.is_null() {
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.node.data {
            YamlData::Sequence(items) => v.visit_seq(Items {
                items: items.iter(),
                at: self,
            }),
            _ => {
                if !self.is_null() {
                    self.wrong("a list");
                }
                v.visit_seq(Items {
                    items: [].iter(),
                    at: self,
                })
            }
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.entries(None, v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        if name == SPANNED {
            let (line, col) = (self.node.span.start.line(), self.node.span.start.col());
            return v.visit_map(Span {
                line,
                col,
                step: 0,
                de: Some(self),
            });
        }
        self.entries(Some(fields), v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let chosen = match self.text() {
            Some(s) if variants.contains(&s.as_str()) => s,
            Some(s) => {
                self.errs.at(
                    self.node,
                    format!(
                        "`{}` is `{s}`; it must be one of: {}",
                        self.path,
                        variants.join(", ")
                    ),
                );
                variants[0].to_string()
            }
            None => {
                self.wrong(&format!("one of: {}", variants.join(", ")));
                variants[0].to_string()
            }
        };
        v.visit_enum(chosen.into_deserializer())
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u128 f32 char bytes byte_buf unit unit_struct
        newtype_struct tuple tuple_struct identifier
    }
}

impl<'n, 'a, 'e> NodeDe<'n, 'a, 'e> {
    /// A mapping's entries; with `known`, other keys are reported (and skipped).
    fn entries<'de, V: Visitor<'de>>(
        self,
        known: Option<&'static [&'static str]>,
        v: V,
    ) -> Result<V::Value, Error> {
        let mut list = Vec::new();
        match &self.node.data {
            YamlData::Mapping(m) => {
                for (k, val) in m.iter() {
                    let Some(key) = k.data.as_str() else {
                        self.errs
                            .at(k, format!("keys of `{}` must be strings", self.path));
                        continue;
                    };
                    if let Some(known) = known.filter(|known| !known.contains(&key)) {
                        self.errs.at(
                            k,
                            format!(
                                "unknown key `{}` (known here: {})",
                                join(&self.path, key),
                                known.join(", ")
                            ),
                        );
                        continue;
                    }
                    list.push((key.to_string(), val));
                }
            }
            _ if self.is_null() => {}
            _ => self.wrong("a mapping"),
        }
        v.visit_map(Entries {
            list: list.into_iter(),
            value: None,
            at: self,
        })
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

struct Items<'n, 'a, 'e, I> {
    items: I,
    at: NodeDe<'n, 'a, 'e>,
}

impl<'de, 'n, 'a: 'n, 'e, I: Iterator<Item = &'n Node<'a>>> de::SeqAccess<'de>
    for Items<'n, 'a, 'e, I>
{
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            None => Ok(None),
            Some(n) => {
                let de = self.at.child(n, format!("{}[]", self.at.path));
                seed.deserialize(de)
                    .map(Some)
                    .map_err(|e| report(self.at.errs, n, e))
            }
        }
    }
}

struct Entries<'n, 'a, 'e> {
    list: std::vec::IntoIter<(String, &'n Node<'a>)>,
    value: Option<(String, &'n Node<'a>)>,
    at: NodeDe<'n, 'a, 'e>,
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_, '_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.list.next() {
            None => Ok(None),
            Some((k, n)) => {
                let key = seed.deserialize(k.clone().into_deserializer()).map(Some);
                self.value = Some((k, n));
                key
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (k, n) = self.value.take().expect("a key before its value");
        let de = self.at.child(n, join(&self.at.path, &k));
        seed.deserialize(de).map_err(|e| report(self.at.errs, n, e))
    }
}

/// Records an error that was not yet recorded, at `n`.
fn report(errs: &Errors, n: &Node, e: Error) -> Error {
    if let Error::Message(m) = e {
        errs.at(n, m);
    }
    Error::Reported
}

/// The three parts [`Spanned`] asks for: line, column, the value itself.
struct Span<'n, 'a, 'e> {
    line: usize,
    col: usize,
    step: usize,
    de: Option<NodeDe<'n, 'a, 'e>>,
}

impl<'de> de::MapAccess<'de> for Span<'_, '_, '_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match SPAN_FIELDS.get(self.step) {
            Some(f) => seed.deserialize(f.into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        self.step += 1;
        match self.step {
            1 => seed.deserialize(self.line.into_deserializer()),
            2 => seed.deserialize(self.col.into_deserializer()),
            _ => seed.deserialize(self.de.take().expect("the value once")),
        }
    }
}
