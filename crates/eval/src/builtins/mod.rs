//! The builtins: registration of every primop and constant into the global
//! scope and the `builtins` set, and helpers that force arguments with
//! CppNix's "while evaluating the first argument passed to builtins.x" frames.

pub(crate) mod arith;
pub(crate) mod attrs;
mod closure_keys;
pub(crate) mod context;
pub(crate) mod control;
pub(crate) mod derivation;
pub(crate) mod fetch;
pub(crate) mod flake;
pub(crate) mod hash;
pub(crate) mod json;
pub(crate) mod json_parse;
pub(crate) mod lists;
pub(crate) mod paths;
pub(crate) mod regex;
pub(crate) mod strings;
pub(crate) mod toml;
pub(crate) mod types;
pub(crate) mod versions;
pub(crate) mod xml;

use std::collections::HashMap;
use triomphe::Arc;

use nixkit_syntax::Symbol;

use crate::compile::GlobalScope;
use crate::error::{EvalError, EvalResult};
use crate::eval::{EvalState, Settings};
use crate::extra::ExtraBuiltin;
use crate::source::Pos;
use crate::thunk::Thunk;
use crate::value::{Attr, Attrs, NixString, PrimOp, Value};

/// Names bound globally without the `__` prefix: the parser's list, so that
/// the names the parser resolves and the names the evaluator binds are one
/// list (see the test `globals_are_the_parsers`).
use nixkit_syntax::globals::PLAIN as UNPREFIXED;

/// Symbols CppNix's evaluator creates before any others, in its order.
const WELL_KNOWN_SYMBOLS: &[&str] = &[
    "outPath",
    "drvPath",
    "type",
    "meta",
    "name",
    "value",
    "system",
    "__overrides",
    "outputs",
    "outputName",
    "__ignoreNulls",
    "file",
    "line",
    "column",
    "__functor",
    "__toString",
    "right",
    "wrong",
    "__structuredAttrs",
    "builder",
    "args",
    "__contentAddressed",
    "__impure",
    "outputHash",
    "outputHashAlgo",
    "outputHashMode",
    "recurseForDerivations",
    "description",
    "self",
    "startSet",
    "operator",
    "key",
    "path",
    "prefix",
    "outputSpecified",
];

/// Every primop table.
fn tables() -> [&'static [PrimOp]; 16] {
    [
        arith::PRIMOPS,
        attrs::PRIMOPS,
        context::PRIMOPS,
        control::PRIMOPS,
        derivation::PRIMOPS,
        flake::PRIMOPS,
        hash::PRIMOPS,
        json::PRIMOPS,
        lists::PRIMOPS,
        paths::PRIMOPS,
        regex::PRIMOPS,
        strings::PRIMOPS,
        toml::PRIMOPS,
        types::PRIMOPS,
        versions::PRIMOPS,
        xml::PRIMOPS,
    ]
}

/// The global scope of an evaluator: names visible everywhere and the
/// `builtins` set.
pub(crate) struct Globals {
    names: HashMap<Symbol, Value>,
    builtins: Attrs,
    /// The embedder's builtins, indexed as their values refer to them.
    pub(crate) extra: std::sync::Arc<[ExtraBuiltin]>,
}

impl GlobalScope for Globals {
    fn lookup(&self, name: Symbol) -> Option<Value> {
        self.names.get(&name).cloned()
    }
}

impl Globals {
    /// The names, for the parser.
    pub(crate) fn syntax_globals(&self) -> nixkit_syntax::Globals {
        let mut g = nixkit_syntax::Globals::new();
        for name in self.names.keys() {
            g.insert(*name);
        }
        g
    }

    /// A fingerprint of the global names (for [`crate::ParseCache`] keys).
    pub(crate) fn fingerprint(&self) -> u64 {
        crate::parse_cache::fingerprint(self.names.keys().map(|n| n.as_str()))
    }

    /// Builds the global scope for the given settings.
    pub(crate) fn new(settings: &Settings, current_time: i64, extra: &[ExtraBuiltin]) -> Globals {
        // Sets are ordered by symbol creation, and `--strict` forces them in
        // that order; CppNix creates these first, so errors surface alike.
        for name in WELL_KNOWN_SYMBOLS {
            Symbol::intern(name);
        }
        let mut entries: Vec<(Symbol, Value)> = Vec::new();
        for table in tables() {
            for op in table {
                if op.name.starts_with("__") {
                    continue; // internal helpers
                }
                entries.push((Symbol::intern(op.name), Value::PrimOp(op)));
            }
        }
        let nix_path: Vec<Value> = settings
            .search_path
            .iter()
            .map(|(prefix, path)| {
                Value::attrs(Attrs::from_pairs([
                    (sym!("path"), Value::string(path.as_str())),
                    (sym!("prefix"), Value::string(prefix.as_str())),
                ]))
            })
            .collect();
        let constants: Vec<(&str, Value)> = vec![
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
            ("null", Value::Null),
            ("nixVersion", Value::string("2.36.0")),
            ("langVersion", Value::Int(6)),
            ("storeDir", Value::string(settings.store_dir.as_str())),
            ("nixPath", Value::list(nix_path)),
            ("derivation", derivation::derivation_value()),
        ];
        for (name, v) in constants {
            entries.push((Symbol::intern(name), v));
        }
        if !settings.pure {
            entries.push((
                sym!("currentSystem"),
                Value::string(settings.current_system.as_str()),
            ));
            entries.push((sym!("currentTime"), Value::Int(current_time)));
        }
        // The embedder's builtins replace any builtin of the same name.
        let mut extra_names = Vec::new();
        for (i, b) in extra.iter().enumerate() {
            let name = Symbol::intern(b.name());
            entries.retain(|(n, _)| *n != name);
            entries.push((name, crate::extra::builtin_value(i, b)));
            extra_names.push(name);
        }
        let self_ref = Arc::new(Thunk::empty());
        entries.push((sym!("builtins"), Value::Thunk(self_ref.clone())));
        let builtins = Attrs::from_unsorted(
            entries
                .iter()
                .map(|(name, value)| Attr {
                    name: *name,
                    value: value.clone(),
                    pos: Pos::NONE,
                })
                .collect(),
        );
        self_ref.set(Value::Attrs(builtins.clone()));

        let mut names = HashMap::new();
        for (name, value) in &entries {
            let text = name.as_str();
            let global = if UNPREFIXED.contains(&text) || extra_names.contains(name) {
                *name
            } else {
                Symbol::intern(&format!("__{text}"))
            };
            names.insert(global, value.clone());
        }
        Globals {
            names,
            builtins,
            extra: extra.into(),
        }
    }

    /// The thunk of `builtins.builtins` (the set itself) and the set: a
    /// cycle the evaluator's drop breaks when nothing else refers to either
    /// ([`crate::cycles::break_builtins_cycle`]).
    pub(crate) fn self_reference(&self) -> (Option<&Value>, &Attrs) {
        (self.names.get(&sym!("builtins")), &self.builtins)
    }

    /// A copy with extra names (for `scopedImport`).
    pub(crate) fn with_scope(&self, scope: &Attrs) -> Globals {
        let mut names = self.names.clone();
        for a in scope.iter() {
            names.insert(a.name, a.value.clone());
        }
        Globals {
            names,
            builtins: self.builtins.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// Nix strings cannot hold NUL bytes: CppNix's error for text that has one
/// (shown with `␀`).
pub(crate) fn check_no_nul(text: &str) -> Result<(), String> {
    if text.contains('\0') {
        return Err(format!(
            "input string '{}' cannot be represented as Nix string because it contains null bytes",
            text.replace('\0', "␀")
        ));
    }
    Ok(())
}

/// Where a value was defined, as far as it is known (CppNix's
/// `Value::determinePos`): functions know their position.
pub(crate) fn value_pos(v: &Value) -> Option<Pos> {
    match v {
        Value::Lambda(c) => Some(c.lambda.pos),
        _ => None,
    }
}

/// "first", "second", "third".
pub(crate) fn ordinal(i: usize) -> &'static str {
    ["first", "second", "third", "fourth"]
        .get(i)
        .copied()
        .unwrap_or("nth")
}

/// Adds the "while evaluating the Nth argument passed to builtins.x" frame.
pub(crate) fn arg_frame(e: EvalError, i: usize, name: &str) -> EvalError {
    e.with_frame(arg_text(i, name), Pos::NONE)
}

/// "while evaluating the Nth argument passed to builtins.x", worded as
/// CppNix words it for each builtin.
pub(crate) fn arg_text(i: usize, name: &str) -> String {
    let name = if name == "foldl'" {
        "foldlStrict"
    } else {
        name
    };
    let ord = ordinal(i);
    match (name, i) {
        ("attrNames" | "attrValues" | "derivationStrict" | "listToAttrs" | "stringLength", 0) => {
            format!("while evaluating the argument passed to builtins.{name}")
        }
        ("head" | "tail" | "elemAt" | "storePath", _) => {
            format!("while evaluating the {ord} argument passed to 'builtins.{name}'")
        }
        ("filterSource", 1) => {
            "while evaluating the second argument (the path to filter) passed to 'builtins.filterSource'".to_string()
        }
        ("concatStringsSep", 0) => format!("while evaluating the {ord} argument (the separator string) passed to builtins.{name}"),
        ("concatStringsSep", 1) => {
            format!("while evaluating the {ord} argument (the list of strings to concat) passed to builtins.{name}")
        }
        ("substring", 0) => format!("while evaluating the {ord} argument (the start offset) passed to builtins.{name}"),
        ("substring", 1) => format!("while evaluating the {ord} argument (the substring length) passed to builtins.{name}"),
        ("substring", 2) => format!("while evaluating the {ord} argument (the string) passed to builtins.{name}"),
        _ => format!("while evaluating the {ord} argument passed to builtins.{name}"),
    }
}

/// Forcing helpers for primop arguments.
pub(crate) struct Args<'a> {
    pub(crate) values: &'a [Value],
    pub(crate) name: &'static str,
    pub(crate) pos: Pos,
}

impl<'a> Args<'a> {
    pub(crate) fn new(values: &'a [Value], name: &'static str, pos: Pos) -> Args<'a> {
        Args { values, name, pos }
    }

    fn get(&self, i: usize) -> &'a Value {
        &self.values[i]
    }

    pub(crate) fn value(&self, s: &mut EvalState, i: usize) -> EvalResult<Value> {
        s.force(self.get(i)).map_err(|e| arg_frame(e, i, self.name))
    }

    /// The set argument `i`, lent in place (as are the list, string and
    /// function below): no reference counting for a builtin that only
    /// reads it.
    pub(crate) fn attrs(&self, s: &mut EvalState, i: usize) -> EvalResult<&'a Attrs> {
        s.force_attrs_ref(self.get(i), self.pos)
            .map_err(|e| arg_frame(e, i, self.name))
    }

    pub(crate) fn list(&self, s: &mut EvalState, i: usize) -> EvalResult<&'a crate::value::List> {
        s.force_list_ref(self.get(i), self.pos)
            .map_err(|e| arg_frame(e, i, self.name))
    }

    pub(crate) fn int(&self, s: &mut EvalState, i: usize) -> EvalResult<i64> {
        s.force_int(self.get(i), self.pos)
            .map_err(|e| arg_frame(e, i, self.name))
    }

    pub(crate) fn string(&self, s: &mut EvalState, i: usize) -> EvalResult<&'a Arc<NixString>> {
        s.force_string_ref(self.get(i), self.pos)
            .map_err(|e| arg_frame(e, i, self.name))
    }

    /// A string argument, coerced as `how` says. As in CppNix, the argument
    /// frame is only added when the value cannot be coerced.
    pub(crate) fn coerced(
        &self,
        s: &mut EvalState,
        i: usize,
        how: crate::ops::Coerce,
    ) -> EvalResult<Arc<NixString>> {
        s.coerce_to_shared_string(self.get(i), how, Pos::NONE, &|| arg_text(i, self.name))
    }

    pub(crate) fn function(&self, s: &mut EvalState, i: usize) -> EvalResult<&'a Value> {
        s.force_function_ref(self.get(i), self.pos)
            .map_err(|e| arg_frame(e, i, self.name))
    }

    /// A symbol from a string argument.
    pub(crate) fn symbol(&self, s: &mut EvalState, i: usize) -> EvalResult<Symbol> {
        Ok(self.string(s, i)?.symbol())
    }
}

/// Defines a primop table entry. A builtin of one argument forces it first
/// (see `PrimOp::forces_first`); `forces N` says that another builtin
/// forces its argument `N` before anything else.
macro_rules! primop {
    ($name:literal, $arity:literal, $f:path) => {
        $crate::value::PrimOp {
            name: $name,
            arity: $arity,
            func: $f,
            forces_first: if $arity == 1 { Some(0) } else { None },
        }
    };
    ($name:literal, $arity:literal, $f:path, forces $first:literal) => {
        $crate::value::PrimOp {
            name: $name,
            arity: $arity,
            func: $f,
            forces_first: Some($first),
        }
    };
}
pub(crate) use primop;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The evaluator's global names (impure, no embedder builtins) are exactly
    /// the names the parser resolves against, so the two cannot drift: a
    /// primop added to a table but not to `nixkit_syntax::globals` fails here.
    #[test]
    fn globals_are_the_parsers() {
        let ev = crate::Evaluator::builder().pure(false).build();
        let ours: BTreeSet<String> = ev
            .state
            .globals
            .names
            .keys()
            .map(|n| n.as_str().to_owned())
            .collect();
        let parser: BTreeSet<String> = nixkit_syntax::Globals::cppnix()
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect();
        let missing: Vec<_> = parser.difference(&ours).collect();
        let extra: Vec<_> = ours.difference(&parser).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "parser-only globals: {missing:?}; evaluator-only globals: {extra:?}"
        );
    }
}
