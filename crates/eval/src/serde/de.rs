//! Deserializing Nix values into Rust types, forcing them lazily.

use std::fmt;
use std::rc::Rc;

use ::serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use crate::error::EvalError;
use crate::eval::{with_stack, EvalState};
use crate::value::Value;

/// Why a value could not be deserialized; see [`DeError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeErrorKind {
    /// The value has the wrong type (or is out of range).
    #[error("expected {expected}, found {found}")]
    Type {
        /// What the Rust type wanted (`u16`, `a string`, …).
        expected: String,
        /// What the Nix value is (`a string`, `70000 (out of range)`, …).
        found: String,
    },
    /// Evaluating the value failed.
    #[error("{0}")]
    Eval(EvalError),
    /// Anything else (a missing field, an unknown variant, …).
    #[error("{0}")]
    Custom(String),
}

/// A deserialization error and the attribute path where it happened.
#[derive(Debug)]
pub struct DeError {
    path: Option<String>,
    kind: DeErrorKind,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "at {p}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for DeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            DeErrorKind::Eval(e) => Some(e),
            _ => None,
        }
    }
}

impl DeError {
    /// Where: attribute names joined by `.`, list indices as `[i]`
    /// (`services.web.ports[0]`); `None` if unknown.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> &DeErrorKind {
        &self.kind
    }

    /// The evaluation error, when forcing a value failed (render it with
    /// [`EvalError::render`] for the full trace).
    pub fn eval_error(&self) -> Option<&EvalError> {
        match &self.kind {
            DeErrorKind::Eval(e) => Some(e),
            _ => None,
        }
    }

    fn new(kind: DeErrorKind) -> DeError {
        DeError { path: None, kind }
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(DeErrorKind::Custom(msg.to_string()))
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(DeErrorKind::Type {
            expected: exp.to_string(),
            found: unexp.to_string(),
        })
    }
}

/// One step of an attribute path.
enum Step {
    Root(String),
    Attr(String),
    Index(usize),
}

/// An attribute path, as a linked list from the leaf up (cheap to extend).
#[derive(Clone, Default)]
struct Path(Option<Rc<(Path, Step)>>);

impl Path {
    fn child(&self, step: Step) -> Path {
        Path(Some(Rc::new((self.clone(), step))))
    }

    fn render(&self) -> String {
        let mut steps = Vec::new();
        let mut cur = self;
        while let Some(node) = &cur.0 {
            steps.push(&node.1);
            cur = &node.0;
        }
        let mut out = String::new();
        for step in steps.into_iter().rev() {
            match step {
                Step::Root(name) => out.push_str(name),
                Step::Attr(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    crate::print::push_attr_name(name, &mut out);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        if out.is_empty() {
            out.push_str("the top level");
        }
        out
    }
}

/// Deserializes a Nix value into `T`, forcing it as far as `T` needs.
pub fn from_value<T: DeserializeOwned>(state: &mut EvalState, value: &Value) -> Result<T, DeError> {
    T::deserialize(ValueDeserializer::new(state, value.clone()))
}

/// [`from_value`], with paths in errors starting at `root` (`config.port`).
pub fn from_value_named<T: DeserializeOwned>(
    state: &mut EvalState,
    value: &Value,
    root: &str,
) -> Result<T, DeError> {
    let path = Path::default().child(Step::Root(root.to_string()));
    T::deserialize(ValueDeserializer {
        state,
        value: value.clone(),
        path,
    })
}

/// A serde [`Deserializer`](de::Deserializer) over a (lazy) Nix value.
pub struct ValueDeserializer<'s> {
    state: &'s mut EvalState,
    value: Value,
    path: Path,
}

impl<'s> ValueDeserializer<'s> {
    /// A deserializer for `value`, forcing it through `state`.
    pub fn new(state: &'s mut EvalState, value: Value) -> ValueDeserializer<'s> {
        ValueDeserializer {
            state,
            value,
            path: Path::default(),
        }
    }

    fn force(&mut self) -> Result<Value, DeError> {
        let (state, value) = (&mut *self.state, &self.value);
        with_stack(|| state.force(value)).map_err(|e| DeError::new(DeErrorKind::Eval(e)))
    }

    fn child(&mut self, value: Value, step: Step) -> ValueDeserializer<'_> {
        ValueDeserializer {
            state: &mut *self.state,
            value,
            path: self.path.child(step),
        }
    }
}

fn type_error(expected: &str, found: &Value) -> DeError {
    DeError::new(DeErrorKind::Type {
        expected: expected.to_string(),
        found: found.show_type().to_string(),
    })
}

/// Adds the path to an error that has none yet (the innermost wins).
fn with_path<T>(r: Result<T, DeError>, path: &Path) -> Result<T, DeError> {
    r.map_err(|mut e| {
        if e.path.is_none() {
            e.path = Some(path.render());
        }
        e
    })
}

macro_rules! deserialize_int {
    ($($method:ident $visit:ident $ty:ty;)*) => {$(
        fn $method<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
            let path = self.path.clone();
            let r = match self.force() {
                Ok(Value::Int(i)) => match <$ty>::try_from(i) {
                    Ok(n) => visitor.$visit(n),
                    Err(_) => Err(DeError::new(DeErrorKind::Type {
                        expected: stringify!($ty).to_string(),
                        found: format!("{i} (out of range)"),
                    })),
                },
                Ok(other) => Err(type_error(stringify!($ty), &other)),
                Err(e) => Err(e),
            };
            with_path(r, &path)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        let r = match self.force() {
            Ok(Value::Null) => visitor.visit_unit(),
            Ok(Value::Bool(b)) => visitor.visit_bool(b),
            Ok(Value::Int(i)) => visitor.visit_i64(i),
            Ok(Value::Float(f)) => visitor.visit_f64(f),
            Ok(Value::String(s)) => visitor.visit_string(s.as_str().to_string()),
            Ok(Value::Path(p)) => visitor.visit_string(p.to_string()),
            Ok(Value::List(items)) => visitor.visit_seq(SeqAccess {
                de: self,
                items,
                next: 0,
            }),
            Ok(Value::Attrs(attrs)) => visitor.visit_map(MapAccess::new(self, &attrs)),
            Ok(other) => Err(type_error("a value that is not a function", &other)),
            Err(e) => Err(e),
        };
        with_path(r, &path)
    }

    deserialize_int! {
        deserialize_i8 visit_i8 i8;
        deserialize_i16 visit_i16 i16;
        deserialize_i32 visit_i32 i32;
        deserialize_i64 visit_i64 i64;
        deserialize_i128 visit_i128 i128;
        deserialize_u8 visit_u8 u8;
        deserialize_u16 visit_u16 u16;
        deserialize_u32 visit_u32 u32;
        deserialize_u64 visit_u64 u64;
        deserialize_u128 visit_u128 u128;
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        let r = match self.force() {
            Ok(Value::Float(f)) => visitor.visit_f64(f),
            Ok(Value::Int(i)) => visitor.visit_f64(i as f64),
            Ok(other) => Err(type_error("a number", &other)),
            Err(e) => Err(e),
        };
        with_path(r, &path)
    }

    fn deserialize_bool<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        let r = match self.force() {
            Ok(Value::Bool(b)) => visitor.visit_bool(b),
            Ok(other) => Err(type_error("a Boolean", &other)),
            Err(e) => Err(e),
        };
        with_path(r, &path)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        let r = match self.force() {
            Ok(Value::String(s)) => visitor.visit_string(s.as_str().to_string()),
            Ok(Value::Path(p)) => visitor.visit_string(p.to_string()),
            Ok(other) => Err(type_error("a string", &other)),
            Err(e) => Err(e),
        };
        with_path(r, &path)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        let r = match self.force() {
            Ok(Value::String(s)) => visitor.visit_byte_buf(s.as_str().as_bytes().to_vec()),
            Ok(other) => Err(type_error("a string", &other)),
            Err(e) => Err(e),
        };
        with_path(r, &path)
    }

    fn deserialize_option<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        let r = match self.force() {
            Ok(Value::Null) => visitor.visit_none(),
            Ok(v) => {
                self.value = v;
                visitor.visit_some(self)
            }
            Err(e) => Err(e),
        };
        with_path(r, &path)
    }

    fn deserialize_unit<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        let r = match self.force() {
            Ok(Value::Null) => visitor.visit_unit(),
            Ok(other) => Err(type_error("null", &other)),
            Err(e) => Err(e),
        };
        with_path(r, &path)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        let r = match self.force() {
            Ok(Value::List(items)) => visitor.visit_seq(SeqAccess {
                de: self,
                items,
                next: 0,
            }),
            Ok(other) => Err(type_error("a list", &other)),
            Err(e) => Err(e),
        };
        with_path(r, &path)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        let r = match self.force() {
            Ok(Value::Attrs(attrs)) => visitor.visit_map(MapAccess::new(self, &attrs)),
            Ok(other) => Err(type_error("a set", &other)),
            Err(e) => Err(e),
        };
        with_path(r, &path)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        let r = match self.force() {
            Ok(Value::String(s)) => visitor.visit_enum(s.as_str().to_string().into_deserializer()),
            Ok(Value::Attrs(attrs)) if attrs.len() == 1 => {
                let (variant, value) = match attrs.iter().next() {
                    Some(a) => (a.name.as_str().to_string(), a.value.clone()),
                    None => return Err(DeError::custom_at("empty set", &path)),
                };
                visitor.visit_enum(EnumAccess {
                    de: self,
                    variant,
                    value,
                })
            }
            Ok(other) => Err(type_error(
                &format!("enum {name} (a string or a set with one attribute)"),
                &other,
            )),
            Err(e) => Err(e),
        };
        with_path(r, &path)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // Never forces: unknown attributes stay unevaluated.
        visitor.visit_unit()
    }
}

impl DeError {
    fn custom_at(msg: &str, path: &Path) -> DeError {
        DeError {
            path: Some(path.render()),
            kind: DeErrorKind::Custom(msg.to_string()),
        }
    }
}

struct SeqAccess<'s> {
    de: ValueDeserializer<'s>,
    items: crate::value::List,
    next: usize,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(item) = self.items.get(self.next).cloned() else {
            return Ok(None);
        };
        let i = self.next;
        self.next += 1;
        seed.deserialize(self.de.child(item, Step::Index(i)))
            .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

struct MapAccess<'s> {
    de: ValueDeserializer<'s>,
    /// Attributes in name order, with the next one last.
    rest: Vec<(String, Value)>,
    value: Option<(String, Value)>,
}

impl<'s> MapAccess<'s> {
    fn new(de: ValueDeserializer<'s>, attrs: &crate::value::Attrs) -> MapAccess<'s> {
        let mut rest: Vec<(String, Value)> = attrs
            .sorted_by_name()
            .into_iter()
            .map(|a| (a.name.as_str().to_string(), a.value.clone()))
            .collect();
        rest.reverse();
        MapAccess {
            de,
            rest,
            value: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for MapAccess<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((name, value)) = self.rest.pop() else {
            return Ok(None);
        };
        let key = seed.deserialize(de::value::StringDeserializer::<DeError>::new(name.clone()))?;
        self.value = Some((name, value));
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((name, value)) = self.value.take() else {
            return Err(DeError::new(DeErrorKind::Custom(
                "value requested before key".into(),
            )));
        };
        seed.deserialize(self.de.child(value, Step::Attr(name)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.rest.len())
    }
}

struct EnumAccess<'s> {
    de: ValueDeserializer<'s>,
    variant: String,
    value: Value,
}

impl<'de, 's> de::EnumAccess<'de> for EnumAccess<'s> {
    type Error = DeError;
    type Variant = VariantAccess<'s>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        mut self,
        seed: V,
    ) -> Result<(V::Value, VariantAccess<'s>), DeError> {
        let v = seed.deserialize(de::value::StringDeserializer::<DeError>::new(
            self.variant.clone(),
        ))?;
        self.de.path = self.de.path.child(Step::Attr(self.variant));
        self.de.value = self.value;
        Ok((v, VariantAccess { de: self.de }))
    }
}

struct VariantAccess<'s> {
    de: ValueDeserializer<'s>,
}

impl<'de> de::VariantAccess<'de> for VariantAccess<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        // `{ variant = <anything>; }`: the value is not looked at.
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_map(self.de, visitor)
    }
}
