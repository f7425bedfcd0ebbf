//! The names bound in the base environment, which the parser resolves
//! variables against (CppNix reports unbound names at parse time).

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use crate::symbol::FxBuild;
use crate::Symbol;

/// A set of global names.
#[derive(Clone, Debug, Default)]
pub struct Globals {
    /// With the crate's fast hash: the parser asks once per variable not
    /// bound locally.
    names: HashSet<Symbol, FxBuild>,
}

/// Names CppNix 2.3x binds globally without the `__` prefix (besides `builtins`).
/// The evaluator's global scope is built from this list too (a unit test in
/// `nixkit-eval` checks that its globals are exactly [`Globals::cppnix`]).
pub const PLAIN: &[&str] = &[
    "builtins",
    "true",
    "false",
    "null",
    "derivation",
    "import",
    "scopedImport",
    "isNull",
    "abort",
    "throw",
    "break",
    "removeAttrs",
    "map",
    "toString",
    "baseNameOf",
    "dirOf",
    "placeholder",
    "derivationStrict",
    "fetchTarball",
    "fetchGit",
    "fetchMercurial",
    "fetchTree",
    "fromTOML",
];

/// Builtins CppNix 2.3x binds globally only with the `__` prefix.
pub const PREFIXED: &[&str] = &[
    "typeOf",
    "isFunction",
    "isInt",
    "isFloat",
    "isString",
    "isBool",
    "isPath",
    "genericClosure",
    "addErrorContext",
    "ceil",
    "floor",
    "tryEval",
    "getEnv",
    "seq",
    "deepSeq",
    "trace",
    "warn",
    "toPath",
    "storePath",
    "pathExists",
    "readFile",
    "findFile",
    "hashFile",
    "readFileType",
    "readDir",
    "toXML",
    "toJSON",
    "fromJSON",
    "toFile",
    "filterSource",
    "path",
    "attrNames",
    "attrValues",
    "getAttr",
    "unsafeGetAttrPos",
    "hasAttr",
    "isAttrs",
    "listToAttrs",
    "intersectAttrs",
    "catAttrs",
    "functionArgs",
    "mapAttrs",
    "zipAttrsWith",
    "isList",
    "elemAt",
    "head",
    "tail",
    "filter",
    "elem",
    "concatLists",
    "length",
    "foldl'",
    "any",
    "all",
    "genList",
    "sort",
    "partition",
    "groupBy",
    "concatMap",
    "add",
    "sub",
    "mul",
    "div",
    "bitAnd",
    "bitOr",
    "bitXor",
    "lessThan",
    "substring",
    "stringLength",
    "hashString",
    "convertHash",
    "match",
    "split",
    "concatStringsSep",
    "replaceStrings",
    "parseDrvName",
    "compareVersions",
    "splitVersion",
    "unsafeDiscardStringContext",
    "hasContext",
    "unsafeDiscardOutputDependency",
    "addDrvOutputDependencies",
    "getContext",
    "appendContext",
    "fetchurl",
    "traceVerbose",
    "currentTime",
    "currentSystem",
    "nixVersion",
    "storeDir",
    "langVersion",
    "nixPath",
    // CppNix binds these only with the `flakes` experimental feature; nixkit's
    // evaluator always provides them, so the parser resolves them too.
    "parseFlakeRef",
    "flakeRefToString",
];

impl Globals {
    /// An empty set.
    pub fn new() -> Globals {
        Globals::default()
    }

    /// CppNix's default global names (impure mode, no experimental features).
    pub fn cppnix() -> Arc<Globals> {
        static DEFAULT: OnceLock<Arc<Globals>> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                let mut g = Globals::new();
                for name in PLAIN {
                    g.insert(Symbol::intern(name));
                }
                for name in PREFIXED {
                    g.insert(Symbol::intern(&format!("__{name}")));
                }
                Arc::new(g)
            })
            .clone()
    }

    /// Adds a name.
    pub fn insert(&mut self, name: Symbol) {
        self.names.insert(name);
    }

    /// Removes a name.
    pub fn remove(&mut self, name: Symbol) {
        self.names.remove(&name);
    }

    /// Whether `name` is global.
    pub fn contains(&self, name: Symbol) -> bool {
        self.names.contains(&name)
    }

    /// All names, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = Symbol> + '_ {
        self.names.iter().copied()
    }
}
