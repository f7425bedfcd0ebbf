//! The value model: [`Value`] and the types it points to.
//!
//! A `Value` is 24 bytes: a tag plus at most two words (the widest payloads are
//! the list slice and the closure's expression + environment pair). Everything
//! large sits behind an [`Arc`], so cloning a value is a reference-count bump
//! and values can move between threads (an evaluator is `Send`).
//!
//! - Attribute sets ([`Attrs`]) are vectors sorted by [`Symbol::index`], so a
//!   lookup is a binary search on `u32`; the lexicographic order needed by
//!   `attrNames` and printing is computed only there.
//! - Lists are `Arc<[Value]>`: immutable, shared, one allocation.
//! - Strings ([`NixString`]) carry their string context out of line, so a
//!   context-free string costs one pointer for it.
//! - Unevaluated values are [`Thunk`]s (see [`crate::thunk`]).

use std::collections::BTreeSet;
use std::fmt;
use triomphe::Arc;

use nixkit_syntax::Symbol;

use crate::compile::LambdaExpr;
use crate::error::EvalError;
use crate::eval::EvalState;
use crate::source::Pos;
use crate::thunk::{Env, Thunk};

/// A Nix value, possibly not yet evaluated ([`Value::Thunk`]).
#[derive(Clone)]
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
    Path(Arc<str>),
    /// An attribute set.
    Attrs(Arc<Attrs>),
    /// A list.
    List(Arc<[Value]>),
    /// A user-defined function and the environment it closes over.
    Lambda(Arc<LambdaExpr>, Arc<Env>),
    /// A builtin function.
    PrimOp(&'static PrimOp),
    /// A builtin applied to fewer arguments than its arity.
    PrimOpApp(Arc<PrimOpApp>),
    /// A value not evaluated yet (or evaluated, behind the shared cell).
    Thunk(Arc<Thunk>),
}

impl Value {
    /// A string value without context.
    pub fn string(text: impl Into<Box<str>>) -> Value {
        Value::String(Arc::new(NixString::new(text)))
    }

    /// A string value with the given context.
    pub fn string_with_context(text: impl Into<Box<str>>, context: Context) -> Value {
        Value::String(Arc::new(NixString { text: text.into(), context: context.into_option(), symbol: Default::default() }))
    }

    /// A path value.
    pub fn path(path: impl Into<Arc<str>>) -> Value {
        Value::Path(path.into())
    }

    /// An attribute set value.
    pub fn attrs(attrs: Attrs) -> Value {
        Value::Attrs(Arc::new(attrs))
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
            Value::Lambda(..) | Value::PrimOp(_) | Value::PrimOpApp(_) => "lambda",
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
            Value::Lambda(..) => "a function",
            Value::PrimOp(_) => "a built-in function",
            Value::PrimOpApp(_) => "a partially applied built-in function",
            Value::Thunk(_) => "a thunk",
        }
    }

    /// Whether the value can be called.
    pub fn is_function(&self) -> bool {
        matches!(self, Value::Lambda(..) | Value::PrimOp(_) | Value::PrimOpApp(_))
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
            (Value::Attrs(a), Value::Attrs(b)) => Arc::ptr_eq(a, b),
            (Value::List(a), Value::List(b)) => Arc::ptr_eq(a, b),
            (Value::Lambda(a, e), Value::Lambda(b, f)) => Arc::ptr_eq(a, b) && Arc::ptr_eq(e, f),
            (Value::PrimOp(a), Value::PrimOp(b)) => std::ptr::eq(*a, *b),
            (Value::Thunk(a), Value::Thunk(b)) => Arc::ptr_eq(a, b),
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
            Value::Path(p) => f.write_str(p),
            Value::Attrs(a) => write!(f, "{{ {} attrs }}", a.len()),
            Value::List(l) => write!(f, "[ {} items ]", l.len()),
            Value::Lambda(..) => f.write_str("<LAMBDA>"),
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

/// Helpers for contexts stored as `Option<Box<Context>>`.
pub(crate) trait ContextExt {
    fn into_option(self) -> Option<Box<Context>>;
}

impl ContextExt for Context {
    fn into_option(self) -> Option<Box<Context>> {
        if self.is_empty() {
            None
        } else {
            Some(Box::new(self))
        }
    }
}

/// A string and its context.
#[derive(Clone, Debug, Default)]
pub struct NixString {
    text: Box<str>,
    context: Option<Box<Context>>,
    /// The string interned as an attribute name, once it has been used as
    /// one (`s.${k}`, `listToAttrs`): later uses skip the symbol table.
    symbol: std::sync::OnceLock<Symbol>,
}

impl PartialEq for NixString {
    fn eq(&self, other: &NixString) -> bool {
        self.text == other.text && self.context == other.context
    }
}

impl NixString {
    /// A context-free string.
    pub fn new(text: impl Into<Box<str>>) -> NixString {
        NixString { text: text.into(), context: None, symbol: Default::default() }
    }

    /// The text as an attribute name (interned once per string value).
    #[inline]
    pub(crate) fn symbol(&self) -> Symbol {
        *self.symbol.get_or_init(|| Symbol::intern(&self.text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The context, if any.
    pub fn context(&self) -> Option<&Context> {
        self.context.as_deref()
    }

    /// Whether the string has a non-empty context.
    pub fn has_context(&self) -> bool {
        self.context.is_some()
    }
}

/// One attribute of a set.
#[derive(Clone, Debug)]
pub struct Attr {
    /// The name.
    pub name: Symbol,
    /// The value (possibly a thunk).
    pub value: Value,
    /// Where it was defined ([`Pos::NONE`] when unknown).
    pub pos: Pos,
}

/// An attribute set: attributes sorted by [`Symbol::index`].
#[derive(Clone, Debug, Default)]
pub struct Attrs {
    /// Exactly as long as needed: a set lives on unchanged after it is
    /// built, so spare capacity would be memory held for nothing.
    entries: Box<[Attr]>,
}

impl Attrs {
    /// An empty set.
    pub fn new() -> Attrs {
        Attrs { entries: Box::default() }
    }

    /// Builds a set from attributes in any order; on duplicate names the last wins.
    pub fn from_unsorted(mut entries: Vec<Attr>) -> Attrs {
        entries.sort_by_key(|a| a.name.index());
        // Keep the last of equal names: reverse-dedup keeps the first of a run.
        entries.reverse();
        entries.dedup_by_key(|a| a.name.index());
        entries.reverse();
        Attrs { entries: entries.into_boxed_slice() }
    }

    /// Builds a set from attributes already sorted by symbol index and unique.
    pub(crate) fn from_sorted(entries: Vec<Attr>) -> Attrs {
        Attrs { entries: entries.into_boxed_slice() }
    }

    /// Builds a set from `(name, value)` pairs.
    pub fn from_pairs<I: IntoIterator<Item = (Symbol, Value)>>(pairs: I) -> Attrs {
        Attrs::from_unsorted(
            pairs.into_iter().map(|(name, value)| Attr { name, value, pos: Pos::NONE }).collect(),
        )
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Looks up an attribute.
    pub fn get(&self, name: Symbol) -> Option<&Value> {
        self.get_attr(name).map(|a| &a.value)
    }

    /// Looks up an attribute with its position.
    pub fn get_attr(&self, name: Symbol) -> Option<&Attr> {
        let key = name.index();
        self.entries.binary_search_by_key(&key, |a| a.name.index()).ok().map(|i| &self.entries[i])
    }

    /// Looks up by text.
    pub fn get_str(&self, name: &str) -> Option<&Value> {
        self.get(Symbol::intern(name))
    }

    /// The attribute at `index` in symbol-index order.
    pub(crate) fn at(&self, index: usize) -> Option<&Attr> {
        self.entries.get(index)
    }

    /// Attributes in symbol-index order.
    pub fn iter(&self) -> std::slice::Iter<'_, Attr> {
        self.entries.iter()
    }

    /// Attributes in lexicographic name order.
    pub fn sorted_by_name(&self) -> Vec<&Attr> {
        let mut v: Vec<&Attr> = self.entries.iter().collect();
        v.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        v
    }

    /// `self // other`.
    pub fn update(&self, other: &Attrs) -> Attrs {
        let (a, b) = (&self.entries, &other.entries);
        let mut out = Vec::with_capacity(a.len() + b.len());
        if b.len() * 16 <= a.len() {
            // A few attributes into a large set (`acc // { x = …; }` in a
            // fold): binary-search each insertion point and copy the runs
            // in between in bulk instead of comparing every name.
            let mut i = 0;
            for y in b {
                let key = y.name.index();
                let k = i + a[i..].partition_point(|x| x.name.index() < key);
                out.extend_from_slice(&a[i..k]);
                out.push(y.clone());
                i = if k < a.len() && a[k].name == y.name { k + 1 } else { k };
            }
            out.extend_from_slice(&a[i..]);
            return Attrs { entries: out.into_boxed_slice() };
        }
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let (x, y) = (a[i].name.index(), b[j].name.index());
            if x < y {
                out.push(a[i].clone());
                i += 1;
            } else if x > y {
                out.push(b[j].clone());
                j += 1;
            } else {
                out.push(b[j].clone());
                i += 1;
                j += 1;
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        Attrs { entries: out.into_boxed_slice() }
    }

    /// Consumes the set into its attributes (symbol-index order).
    pub fn into_entries(self) -> Vec<Attr> {
        self.entries.into_vec()
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
