//! The value model: [`Value`] and the types it points to.
//!
//! A `Value` is 16 bytes: a tag plus one word. Everything large sits behind a
//! one-word reference-counted pointer (`triomphe::Arc`, or a thin
//! [`SharedSlice`] for lists and sets; a function value points to its
//! [`Closure`]), so cloning a value is a reference-count bump and values can
//! move between threads (an evaluator is `Send`).
//!
//! - Attribute sets ([`Attrs`]) are vectors sorted by [`Symbol::index`], so a
//!   lookup is a binary search on `u32`; the lexicographic order needed by
//!   `attrNames` and printing is computed only there.
//! - Lists are [`List`]s: immutable, shared, one allocation.
//! - Strings ([`NixString`]) carry their string context out of line, so a
//!   context-free string costs one pointer for it.
//! - Unevaluated values are [`Thunk`]s (see [`crate::thunk`]).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};
use triomphe::Arc;

use nixkit_syntax::Symbol;

use crate::compile::LambdaExpr;
use crate::error::EvalError;
use crate::eval::EvalState;
use crate::source::Pos;
use crate::thunk::{Env, Thunk};

pub use crate::attr_set::{Attr, Attrs};
pub use crate::shared_slice::SharedSlice;

/// A list's items: shared, immutable, behind one word.
pub type List = SharedSlice<Value>;

/// A function value: the lambda and the scope it closes over.
pub struct Closure {
    pub(crate) lambda: Arc<LambdaExpr>,
    pub(crate) env: Arc<Env>,
}

impl Closure {
    /// Whether this closure alone holds its scope.
    #[inline]
    pub(crate) fn env_is_unique(&self) -> bool {
        self.env.is_unique()
    }

    /// A function value for `lambda` closing over `env`.
    pub(crate) fn value(lambda: Arc<LambdaExpr>, env: Arc<Env>) -> Value {
        Value::Lambda(Arc::new(Closure { lambda, env }))
    }

    /// A `let`-bound lambda as its own scope's slot holds it: closing over
    /// a marker instead of the scope (see [`crate::thunk::Env::own_lambda`]).
    /// Closing over the scope would make a reference cycle (the scope holds
    /// the closure, the closure the scope) that reference counting never
    /// frees; whoever reads the slot knows the scope and binds it then.
    pub(crate) fn in_own_scope(lambda: Arc<LambdaExpr>) -> Value {
        Value::Lambda(Arc::new(Closure {
            lambda,
            env: crate::thunk::own_scope_marker().clone(),
        }))
    }
}

/// A path value's text (absolute and canonical), shared.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NixPath(Arc<Box<str>>);

impl NixPath {
    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for NixPath {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NixPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Nix value, possibly not yet evaluated ([`Value::Thunk`]).
///
/// The tag is a whole word (`repr(u64)`), so every payload (even `Bool`'s)
/// sits at offset 8. With a one-byte tag the compiler keeps the tag of a
/// value inside a `Result` or `Option` (whose variants it encodes) apart
/// and copies the rest as 15 unaligned bytes in overlapping moves, which
/// stall on store forwarding; a word-sized tag makes such copies two
/// aligned words. The size stays 16 bytes (see the layout test in
/// `thunk.rs`).
///
/// Embedders match on [`Value::view`] (a [`ValueView`](crate::ValueView)),
/// which hides the evaluator's internal variants; the enum is
/// `#[non_exhaustive]` for the same reason.
#[derive(Clone)]
#[repr(u64)]
#[non_exhaustive]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A double-precision float.
    Float(f64),
    /// A string with its context.
    String(Arc<NixString>),
    /// An absolute, canonical path.
    Path(NixPath),
    /// An attribute set.
    Attrs(Attrs),
    /// A list.
    List(List),
    /// A user-defined function and the environment it closes over.
    Lambda(Arc<Closure>),
    /// A builtin function.
    PrimOp(&'static PrimOp),
    /// A builtin applied to fewer arguments than its arity (internal).
    #[doc(hidden)]
    PrimOpApp(Arc<PrimOpApp>),
    /// A value not evaluated yet, or evaluated behind the shared cell (internal:
    /// [`Value::view`] looks through it).
    #[doc(hidden)]
    Thunk(Arc<Thunk>),
}

impl Value {
    /// [`Clone::clone`], inlined: for the few hot places that write the
    /// copy into a larger structure. The derived clone is out of line and
    /// returns the copy through a stack slot, which the caller then moves
    /// with a 16-byte load that straddles the two 8-byte stores of the
    /// clone: a store-forwarding stall (see `PERFORMANCE.md`).
    #[inline(always)]
    pub(crate) fn clone_inline(&self) -> Value {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Int(*i),
            Value::Float(f) => Value::Float(*f),
            Value::String(s) => Value::String(s.clone()),
            Value::Path(p) => Value::Path(p.clone()),
            Value::Attrs(a) => Value::Attrs(a.clone()),
            Value::List(l) => Value::List(l.clone()),
            Value::Lambda(c) => Value::Lambda(c.clone()),
            Value::PrimOp(p) => Value::PrimOp(p),
            Value::PrimOpApp(p) => Value::PrimOpApp(p.clone()),
            Value::Thunk(t) => Value::Thunk(t.clone()),
        }
    }
}

impl Value {
    /// A string value without context.
    pub fn string(text: impl Into<Box<str>>) -> Value {
        Value::String(Arc::new(NixString::new(text)))
    }

    /// A string value with the given context.
    pub fn string_with_context(text: impl Into<Box<str>>, context: Context) -> Value {
        Value::String(Arc::new(NixString::with_context(text, context)))
    }

    /// A path value.
    pub fn path(path: impl Into<Box<str>>) -> Value {
        Value::Path(NixPath(Arc::new(path.into())))
    }

    /// An attribute set value.
    pub fn attrs(attrs: Attrs) -> Value {
        Value::Attrs(attrs)
    }

    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(items.into())
    }

    /// The type name used by `builtins.typeOf`.
    pub fn type_of(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Path(_) => "path",
            Value::Attrs(_) => "set",
            Value::List(_) => "list",
            Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_) => "lambda",
            Value::Thunk(_) => "thunk",
        }
    }

    /// The type as CppNix's error messages show it ("an integer", "a set", …).
    pub fn show_type(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a Boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::String(_) => "a string",
            Value::Path(_) => "a path",
            Value::Attrs(_) => "a set",
            Value::List(_) => "a list",
            Value::Lambda(_) => "a function",
            Value::PrimOp(_) => "a built-in function",
            Value::PrimOpApp(_) => "a partially applied built-in function",
            Value::Thunk(_) => "a thunk",
        }
    }

    /// Whether the value can be called.
    pub fn is_function(&self) -> bool {
        matches!(
            self,
            Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_)
        )
    }

    /// The evaluated value if this is an already-forced thunk or not a thunk.
    pub(crate) fn peek(&self) -> Option<Value> {
        match self {
            Value::Thunk(t) => t.get().cloned(),
            v => Some(v.clone()),
        }
    }

    /// The evaluated value, by reference (no reference-count traffic), if
    /// this is not a thunk or an already-forced one.
    #[inline]
    pub(crate) fn forced(&self) -> Option<&Value> {
        match self {
            Value::Thunk(t) => t.get(),
            v => Some(v),
        }
    }

    /// Whether two values are the same allocation (CppNix's pointer-equality
    /// shortcut in `==`).
    pub(crate) fn same_allocation(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Attrs(a), Value::Attrs(b)) => Attrs::ptr_eq(a, b),
            (Value::List(a), Value::List(b)) => List::ptr_eq(a, b),
            (Value::Lambda(a), Value::Lambda(b)) => {
                Arc::ptr_eq(a, b)
                    || (Arc::ptr_eq(&a.lambda, &b.lambda) && Arc::ptr_eq(&a.env, &b.env))
            }
            (Value::PrimOp(a), Value::PrimOp(b)) => std::ptr::eq(*a, *b),
            (Value::Thunk(a), Value::Thunk(b)) => Arc::ptr_eq(a, b),
            // A forced thunk and the value it holds, stored elsewhere
            // without the thunk, are one cell in CppNix's terms.
            (Value::Thunk(t), v) | (v, Value::Thunk(t)) => {
                t.get().is_some_and(|forced| forced.same_allocation(v))
            }
            _ => false,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::String(s) => write!(f, "{:?}", s.as_str()),
            Value::Path(p) => f.write_str(p.as_str()),
            Value::Attrs(a) => write!(f, "{{ {} attrs }}", a.len()),
            Value::List(l) => write!(f, "[ {} items ]", l.len()),
            Value::Lambda(_) => f.write_str("<LAMBDA>"),
            Value::PrimOp(p) => write!(f, "<PRIMOP {}>", p.name),
            Value::PrimOpApp(_) => f.write_str("<PRIMOP-APP>"),
            Value::Thunk(_) => f.write_str("<CODE>"),
        }
    }
}

/// A string's context: the store paths it refers to, encoded as CppNix
/// encodes them (`/nix/store/…` opaque, `=/nix/store/….drv` whole derivation,
/// `!out!/nix/store/….drv` one output).
pub type Context = BTreeSet<Box<str>>;

/// A string's context as a string value keeps it: the elements of a
/// [`Context`], sorted and unique, in one boxed slice. (A `BTreeSet` with one
/// element allocates a whole node of eleven; a derivation's `drvPath` and
/// output paths each carry a one-element context, kept for the whole
/// evaluation.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StringContext(Box<[Box<str>]>);

impl StringContext {
    /// The elements, sorted.
    pub fn iter(&self) -> std::slice::Iter<'_, Box<str>> {
        self.0.iter()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never true for a stored context).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The elements as a [`Context`] to extend.
    pub fn to_set(&self) -> Context {
        self.0.iter().cloned().collect()
    }
}

impl<'a> IntoIterator for &'a StringContext {
    type Item = &'a Box<str>;
    type IntoIter = std::slice::Iter<'a, Box<str>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Helpers for contexts stored as `Option<StringContext>`.
pub(crate) trait ContextExt {
    fn into_option(self) -> Option<StringContext>;
}

impl ContextExt for Context {
    fn into_option(self) -> Option<StringContext> {
        if self.is_empty() {
            None
        } else {
            Some(StringContext(self.into_iter().collect()))
        }
    }
}

/// A string and its context.
///
/// Nix strings are bytes; the text holds them as UTF-8 with the bytes that
/// are not UTF-8 escaped (see `nixkit_syntax::decode_bytes`). The text is
/// always canonical (the constructors make it so), so equal byte strings
/// have equal texts, and `raw` says whether it holds any escape: without one
/// (nearly always) the text's UTF-8 bytes are the Nix bytes, and byte
/// offsets, lengths and order need no translation.
#[derive(Debug)]
pub struct NixString {
    text: Box<str>,
    context: Option<StringContext>,
    /// The string interned as an attribute name (a [`Symbol::index`], or
    /// [`NO_SYMBOL`]), once it has been used as one (`s.${k}`,
    /// `listToAttrs`): later uses skip the symbol table.
    symbol: AtomicU32,
    /// Whether the text holds escape characters (bytes that are not UTF-8).
    raw: bool,
}

/// [`NixString::symbol`]'s "not interned yet".
const NO_SYMBOL: u32 = u32::MAX;

impl Clone for NixString {
    fn clone(&self) -> NixString {
        NixString {
            text: self.text.clone(),
            context: self.context.clone(),
            symbol: AtomicU32::new(self.symbol.load(AtomicOrdering::Relaxed)),
            raw: self.raw,
        }
    }
}

impl Default for NixString {
    fn default() -> NixString {
        NixString::new("")
    }
}

impl PartialEq for NixString {
    fn eq(&self, other: &NixString) -> bool {
        self.text == other.text && self.context == other.context
    }
}

impl NixString {
    /// A context-free string.
    pub fn new(text: impl Into<Box<str>>) -> NixString {
        NixString::from_parts(text.into(), None)
    }

    /// A string with a context.
    pub fn with_context(text: impl Into<Box<str>>, context: Context) -> NixString {
        NixString::from_parts(text.into(), context.into_option())
    }

    /// An attribute name as a string (`attrNames`, `mapAttrs`): its symbol
    /// is known, so using the string as a name again costs no lookup.
    pub(crate) fn from_symbol(sym: Symbol) -> NixString {
        let s = NixString::from_parts(sym.as_str().into(), None);
        if !s.raw {
            // The text is the symbol's (only text with escapes can change).
            s.symbol.store(sym.index(), AtomicOrdering::Relaxed);
        }
        s
    }

    /// The one constructor: makes the text canonical.
    fn from_parts(mut text: Box<str>, context: Option<StringContext>) -> NixString {
        let mut raw = false;
        if nixkit_syntax::has_escapes(&text) {
            if let std::borrow::Cow::Owned(canonical) = nixkit_syntax::canonicalize(&text) {
                text = canonical.into();
            }
            raw = nixkit_syntax::has_escapes(&text);
        }
        NixString {
            text,
            context,
            symbol: AtomicU32::new(NO_SYMBOL),
            raw,
        }
    }

    /// The text as an attribute name (interned once per string value).
    #[inline]
    pub(crate) fn symbol(&self) -> Symbol {
        let n = self.symbol.load(AtomicOrdering::Relaxed);
        if n != NO_SYMBOL {
            return Symbol::from_index(n);
        }
        // Interning is idempotent, so threads racing here store the same.
        let sym = Symbol::intern(&self.text);
        self.symbol.store(sym.index(), AtomicOrdering::Relaxed);
        sym
    }

    /// The text (bytes that are not UTF-8 escaped, see the type's docs).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The Nix bytes (borrowed from the text unless it holds escapes).
    pub fn as_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        if self.raw {
            nixkit_syntax::encode_bytes(&self.text)
        } else {
            std::borrow::Cow::Borrowed(self.text.as_bytes())
        }
    }

    /// The number of Nix bytes (`builtins.stringLength`).
    pub fn byte_len(&self) -> usize {
        if self.raw {
            nixkit_syntax::byte_len(&self.text)
        } else {
            self.text.len()
        }
    }

    /// Whether the text holds bytes that are not UTF-8 (as escapes).
    pub fn has_raw_bytes(&self) -> bool {
        self.raw
    }

    /// The text standing for Nix bytes `start..end` (clamped).
    pub fn byte_slice(&self, start: usize, end: usize) -> std::borrow::Cow<'_, str> {
        if self.raw {
            nixkit_syntax::byte_slice(&self.text, start, end)
        } else {
            let start = start.min(self.text.len());
            let end = end.clamp(start, self.text.len());
            match self.text.get(start..end) {
                Some(piece) => std::borrow::Cow::Borrowed(piece),
                None => nixkit_syntax::decode_bytes(&self.text.as_bytes()[start..end]),
            }
        }
    }

    /// Nix's order of strings: by bytes.
    pub fn cmp_bytes(&self, other: &NixString) -> std::cmp::Ordering {
        if self.raw || other.raw {
            nixkit_syntax::cmp_bytes(&self.text, &other.text)
        } else {
            self.text.cmp(&other.text)
        }
    }

    /// The context, if any.
    pub fn context(&self) -> Option<&StringContext> {
        self.context.as_ref()
    }

    /// Whether the string has a non-empty context.
    pub fn has_context(&self) -> bool {
        self.context.is_some()
    }
}

/// The signature of a builtin's implementation: the state, the arguments
/// (as many as the arity, unevaluated) and the call position.
pub type PrimOpFn = fn(&mut EvalState, &[Value], Pos) -> Result<Value, EvalError>;

/// A builtin function.
pub struct PrimOp {
    /// Its name without `__` (as in error messages: "while calling the 'x' builtin").
    pub name: &'static str,
    /// Number of arguments it takes.
    pub arity: u8,
    /// The implementation.
    pub func: PrimOpFn,
    /// The argument the builtin forces before it does anything else, if it
    /// always does: a call giving all its arguments evaluates that one
    /// directly instead of making a thunk of it (an error is handed over as
    /// a failed thunk, which the builtin reports as usual). Every builtin of
    /// one argument forces it first.
    pub forces_first: Option<u8>,
}

impl fmt::Debug for PrimOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrimOp({})", self.name)
    }
}

/// A partially applied builtin.
#[derive(Debug)]
pub struct PrimOpApp {
    /// The builtin.
    pub op: &'static PrimOp,
    /// The arguments given so far (fewer than the arity).
    pub args: Vec<Value>,
}
