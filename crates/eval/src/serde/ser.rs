//! Serializing Rust data into Nix values.
//!
//! Mapping: `()`/`None`/unit structs → `null`; integers → ints (`u64` above
//! `i64::MAX` is an error); floats → floats; `char`/strings → strings;
//! bytes → a list of integers; sequences and tuples → lists; maps and structs
//! → attribute sets (map keys must serialize as strings or integers); unit
//! variants → the variant name; other variants → `{ Variant = …; }`.

use std::fmt;

use ::serde::ser::{self, Serialize};
use nixkit_syntax::Symbol;

use crate::value::{Attrs, Value};

/// Why a Rust value could not become a Nix value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SerError {
    /// An integer does not fit in Nix's 64-bit signed integers.
    #[error("integer {0} does not fit in a Nix integer")]
    IntegerRange(String),
    /// A map key is not a string.
    #[error("attribute names must be strings, found {0}")]
    KeyNotString(&'static str),
    /// A `Serialize` implementation reported an error.
    #[error("{0}")]
    Custom(String),
}

impl ser::Error for SerError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerError::Custom(msg.to_string())
    }
}

/// Turns any `T: Serialize` into a Nix value.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, SerError> {
    value.serialize(ValueSerializer)
}

/// A serde [`Serializer`](ser::Serializer) producing Nix [`Value`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValueSerializer;

fn attrs(pairs: Vec<(String, Value)>) -> Value {
    Value::attrs(Attrs::from_pairs(
        pairs.into_iter().map(|(k, v)| (Symbol::intern(&k), v)),
    ))
}

fn variant(name: &str, value: Value) -> Value {
    attrs(vec![(name.to_string(), value)])
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = SerError;
    type SerializeSeq = SeqSerializer;
    type SerializeTuple = SeqSerializer;
    type SerializeTupleStruct = SeqSerializer;
    type SerializeTupleVariant = SeqSerializer;
    type SerializeMap = MapSerializer;
    type SerializeStruct = MapSerializer;
    type SerializeStructVariant = MapSerializer;

    fn serialize_bool(self, v: bool) -> Result<Value, SerError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, SerError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, SerError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, SerError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, SerError> {
        Ok(Value::Int(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, SerError> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| SerError::IntegerRange(v.to_string()))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, SerError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, SerError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, SerError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, SerError> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| SerError::IntegerRange(v.to_string()))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, SerError> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| SerError::IntegerRange(v.to_string()))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, SerError> {
        Ok(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, SerError> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, SerError> {
        Ok(Value::string(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, SerError> {
        Ok(Value::string(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, SerError> {
        Ok(Value::list(
            v.iter().map(|b| Value::Int((*b).into())).collect(),
        ))
    }
    fn serialize_none(self) -> Result<Value, SerError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, SerError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, SerError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, SerError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, SerError> {
        Ok(Value::string(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, SerError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        name: &'static str,
        value: &T,
    ) -> Result<Value, SerError> {
        Ok(variant(name, value.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSerializer, SerError> {
        Ok(SeqSerializer {
            items: Vec::with_capacity(len.unwrap_or(0)),
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSerializer, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqSerializer, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        name: &'static str,
        len: usize,
    ) -> Result<SeqSerializer, SerError> {
        Ok(SeqSerializer {
            items: Vec::with_capacity(len),
            variant: Some(name),
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapSerializer, SerError> {
        Ok(MapSerializer {
            pairs: Vec::with_capacity(len.unwrap_or(0)),
            key: None,
            variant: None,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<MapSerializer, SerError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        name: &'static str,
        len: usize,
    ) -> Result<MapSerializer, SerError> {
        Ok(MapSerializer {
            pairs: Vec::with_capacity(len),
            key: None,
            variant: Some(name),
        })
    }
}

/// Builds a list (or `{ Variant = [ … ]; }`).
#[derive(Debug)]
pub struct SeqSerializer {
    items: Vec<Value>,
    variant: Option<&'static str>,
}

impl SeqSerializer {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.items.push(value.serialize(ValueSerializer)?);
        Ok(())
    }

    fn finish(self) -> Value {
        let list = Value::list(self.items);
        match self.variant {
            Some(name) => variant(name, list),
            None => list,
        }
    }
}

impl ser::SerializeSeq for SeqSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTuple for SeqSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleStruct for SeqSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleVariant for SeqSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

/// Builds an attribute set (or `{ Variant = { … }; }`).
#[derive(Debug)]
pub struct MapSerializer {
    pairs: Vec<(String, Value)>,
    key: Option<String>,
    variant: Option<&'static str>,
}

impl MapSerializer {
    fn finish(self) -> Value {
        let set = attrs(self.pairs);
        match self.variant {
            Some(name) => variant(name, set),
            None => set,
        }
    }
}

impl ser::SerializeMap for MapSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        self.key = Some(match key.serialize(ValueSerializer)? {
            Value::String(s) => s.as_str().to_string(),
            Value::Int(i) => i.to_string(),
            other => return Err(SerError::KeyNotString(other.show_type())),
        });
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| SerError::Custom("map value without a key".into()))?;
        self.pairs.push((key, value.serialize(ValueSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStruct for MapSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.pairs
            .push((key.to_string(), value.serialize(ValueSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStructVariant for MapSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.pairs
            .push((key.to_string(), value.serialize(ValueSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}
