//! The expression generator: random, well-scoped, mostly well-typed Nix
//! expressions over the language and the builtins, deterministic from a seed.
//!
//! Expressions are generated for a wanted type ([`Ty`]); a variable is only
//! used where it is in scope (lexical bindings shadow `with` attributes, as
//! in Nix). With a small probability a node is replaced by an error
//! (`throw`, `abort`, a failing `assert`) or by a value of another type, so
//! errors and their classes are compared too. Productions per type are in
//! `typed.rs`; this file holds the types, the scope and the forms shared by
//! every type.

mod extra;
mod typed;

use std::collections::BTreeSet;

use crate::expr::Node;
use crate::rules::PendingFix;

/// The type of a generated expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// An integer.
    Int,
    /// A float.
    Float,
    /// A Boolean.
    Bool,
    /// A string.
    Str,
    /// `null`.
    Null,
    /// A list whose items have the given type.
    List(Box<Ty>),
    /// A set with at least these attributes.
    Set(Vec<(String, Ty)>),
    /// A function.
    Fun(Box<Ty>, Box<Ty>),
}

impl Ty {
    /// Whether a float occurs in values of this type.
    pub fn has_float(&self) -> bool {
        match self {
            Ty::Float => true,
            Ty::List(t) => t.has_float(),
            Ty::Set(fields) => fields.iter().any(|(_, t)| t.has_float()),
            Ty::Fun(_, _) => false,
            _ => false,
        }
    }

    /// Whether a function occurs in values of this type.
    pub fn has_fun(&self) -> bool {
        match self {
            Ty::Fun(_, _) => true,
            Ty::List(t) => t.has_fun(),
            Ty::Set(fields) => fields.iter().any(|(_, t)| t.has_fun()),
            _ => false,
        }
    }
}

/// What the generator produces.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Classes left out because their fix is pending.
    pub pending: BTreeSet<PendingFix>,
    /// The builtins the oracle has (empty: every builtin the generator knows).
    pub builtins: BTreeSet<String>,
    /// The probability that a node is replaced by an error or a wrongly typed value.
    pub error_rate: f64,
    /// The maximal nesting depth of an item.
    pub max_depth: u32,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            pending: PendingFix::ALL.into_iter().collect(),
            builtins: BTreeSet::new(),
            error_rate: 0.006,
            max_depth: 5,
        }
    }
}

/// A variable in scope.
#[derive(Clone, Debug)]
struct Var {
    name: String,
    ty: Ty,
    /// Brought in by `with` (shadowed by every lexical binding of the name).
    from_with: bool,
}

/// The generator's state: random source, configuration, scope.
pub struct Gen<'a> {
    rng: fastrand::Rng,
    cfg: &'a GenConfig,
    vars: Vec<Var>,
    fresh: u32,
    /// Nesting of arguments where no error may be injected (function
    /// arguments of `map`/`genList`, see `ModernDifference::MapGenListForcing`).
    no_errors: u32,
    /// Nesting of arguments whose random types have no floats (`toJSON`,
    /// see `ModernDifference::ToJsonFloats`).
    pub(super) no_floats: u32,
}

/// Attribute names used in generated sets (some are Nix keywords-like or need quoting).
const ATTR_NAMES: [&str; 8] = ["a", "b", "c", "n", "name", "value", "x-y", "\"q r\""];

impl<'a> Gen<'a> {
    /// A generator for `seed`.
    pub fn new(cfg: &'a GenConfig, seed: u64) -> Gen<'a> {
        Gen {
            rng: fastrand::Rng::with_seed(seed),
            cfg,
            vars: Vec::new(),
            fresh: 0,
            no_errors: 0,
            no_floats: 0,
        }
    }

    /// One item: an expression of a random type.
    pub fn item(&mut self) -> Node {
        self.vars.clear();
        let ty = self.ty(2);
        let max = self.cfg.max_depth;
        let depth = if max <= 2 { max } else { self.rng.u32(2..=max) };
        let item = self.expr(&ty, depth);
        if self.allows(PendingFix::LexerWhitespace) && self.chance(0.03) {
            // Not whitespace to Nix: a syntax error in CppNix.
            let space = *self.pick(&["\u{a0}", "\u{0b}", "\u{0c}", "\u{200b}", "\u{2003}"]);
            return Node::form(&["(", &format!("{space})")], vec![item]);
        }
        item
    }

    fn allows(&self, class: PendingFix) -> bool {
        !self.cfg.pending.contains(&class)
    }

    /// Whether the oracle has builtin `name`.
    fn has_builtin(&self, name: &str) -> bool {
        self.cfg.builtins.is_empty() || self.cfg.builtins.contains(name)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.f64() < p
    }

    fn pick<'s, T>(&mut self, items: &'s [T]) -> &'s T {
        &items[self.rng.usize(..items.len())]
    }

    fn fresh_name(&mut self) -> String {
        self.fresh += 1;
        format!("v{}", self.fresh)
    }

    fn attr_name(&mut self) -> String {
        self.pick(&ATTR_NAMES).to_string()
    }

    /// A random type; `depth` bounds nesting.
    pub fn ty(&mut self, depth: u32) -> Ty {
        let k = if depth == 0 {
            self.rng.u32(0..5)
        } else {
            self.rng.u32(0..9)
        };
        match k {
            0 => Ty::Int,
            1 if self.no_floats > 0 => Ty::Int,
            1 => Ty::Float,
            2 => Ty::Bool,
            3 => Ty::Str,
            4 => {
                if self.chance(0.3) {
                    Ty::Null
                } else {
                    Ty::Int
                }
            }
            5 | 6 => Ty::List(Box::new(self.ty(depth - 1))),
            7 => {
                let mut fields: Vec<(String, Ty)> = Vec::new();
                for _ in 0..self.rng.usize(1..4) {
                    let name = self.attr_name();
                    if fields.iter().all(|(n, _)| *n != name) {
                        let t = self.ty(depth - 1);
                        fields.push((name, t));
                    }
                }
                Ty::Set(fields)
            }
            _ => Ty::Fun(Box::new(self.ty(depth - 1)), Box::new(self.ty(depth - 1))),
        }
    }

    /// A type without floats or functions (for `toJSON` and equality).
    fn plain_ty(&mut self, depth: u32) -> Ty {
        for _ in 0..20 {
            let t = self.ty(depth);
            if !t.has_float() && !t.has_fun() {
                return t;
            }
        }
        Ty::Int
    }

    /// The variables of type `ty` that a reference by name reaches.
    fn visible_vars(&self, ty: &Ty) -> Vec<String> {
        let mut out = Vec::new();
        for (i, v) in self.vars.iter().enumerate() {
            if v.ty != *ty {
                continue;
            }
            let later = &self.vars[i + 1..];
            let shadowed = if v.from_with {
                later.iter().any(|w| w.name == v.name)
                    || self.vars.iter().any(|w| w.name == v.name && !w.from_with)
            } else {
                later.iter().any(|w| w.name == v.name && !w.from_with)
            };
            if !shadowed {
                out.push(v.name.clone());
            }
        }
        out
    }

    /// An expression of type `ty`, at most `depth` levels deep.
    pub fn expr(&mut self, ty: &Ty, depth: u32) -> Node {
        if self.no_errors == 0 && self.chance(self.cfg.error_rate) {
            return self.error_node(ty, depth);
        }
        if depth == 0 {
            return self.leaf(ty);
        }
        for _ in 0..8 {
            let k = self.rng.u32(0..100);
            let node = if k < 30 {
                self.common(ty, depth)
            } else if k < 38 {
                self.extra(ty, depth - 1)
            } else {
                self.typed(ty, depth)
            };
            if let Some(n) = node {
                return n;
            }
        }
        self.leaf(ty)
    }

    /// A literal or a variable of type `ty`.
    fn leaf(&mut self, ty: &Ty) -> Node {
        let vars = self.visible_vars(ty);
        if !vars.is_empty() && self.chance(0.5) {
            return Node::leaf(self.pick(&vars).clone());
        }
        self.literal(ty)
    }

    fn error_node(&mut self, ty: &Ty, depth: u32) -> Node {
        let id = self.rng.u32(0..100);
        match self.rng.u32(0..6) {
            5 => {
                let v = self.fresh_name();
                Node::leaf(format!("(let {v} = {v}; in {v})"))
            }
            0 => Node::leaf(format!("(throw \"dtthrow {id}\")")),
            1 => Node::leaf(format!("(abort \"dtabort {id}\")")),
            2 => {
                let d = depth.saturating_sub(1);
                let cond = self.expr(&Ty::Bool, d.min(1));
                let body = self.expr(ty, d);
                Node::form(&["(assert ", "; ", ")"], vec![cond, body])
            }
            _ => {
                // A value of another type where `ty` is wanted.
                let other = self.ty(1);
                self.literal(&other)
            }
        }
    }

    /// A literal value of type `ty` (small, built from literals only).
    fn literal(&mut self, ty: &Ty) -> Node {
        match ty {
            Ty::Int => {
                let v = match self.rng.u32(0..10) {
                    0 => self.rng.i64(-1000..1000),
                    1 => *self.pick(&[2147483647, -2147483648, 4294967296, 1 << 40]),
                    _ => self.rng.i64(-3..10),
                };
                if v < 0 {
                    Node::leaf(format!("({v})"))
                } else {
                    Node::leaf(v.to_string())
                }
            }
            Ty::Float => Node::leaf(
                self.pick(&[
                    "0.5",
                    "1.0",
                    "2.5",
                    "0.1",
                    "3.14159",
                    "1.5e3",
                    "1.0e-3",
                    "(-2.5)",
                    "0.0",
                    "123456789.0",
                    ".5",
                    "1.0e21",
                    "1.0e-7",
                    "123456.789",
                    "(0.1 + 0.2)",
                    "1.0e15",
                ])
                .to_string(),
            ),
            Ty::Bool => Node::leaf(if self.rng.bool() { "true" } else { "false" }),
            Ty::Null => Node::leaf("null"),
            Ty::Str => self.string_literal(),
            Ty::List(t) => {
                let n = self.rng.usize(0..4);
                let items = (0..n).map(|_| self.literal(t)).collect();
                Node::seq("[ ", items, "]", true)
            }
            Ty::Set(fields) => {
                let items = fields
                    .iter()
                    .map(|(name, t)| {
                        let v = self.literal(t);
                        Node::part(&[&format!("{name} = "), ";"], vec![v])
                    })
                    .collect();
                Node::seq("{ ", items, "}", true)
            }
            Ty::Fun(arg, ret) => {
                let name = self.fresh_name();
                self.vars.push(Var {
                    name: name.clone(),
                    ty: (**arg).clone(),
                    from_with: false,
                });
                let body = self.leaf(ret);
                self.vars.pop();
                Node::form(&[&format!("({name}: "), ")"], vec![body])
            }
        }
    }

    /// A string literal: plain or indented, with escapes.
    fn string_literal(&mut self) -> Node {
        let indented = self.chance(0.15);
        let mut pieces: Vec<&str> =
            vec!["a", "b", "hello", "x y", "1", "-", "", "foo.bar", "1.2.3"];
        if indented {
            // Escapes of indented strings; a backslash is plain text there.
            pieces.extend(["''$", "'''", "''\\t", "''\\n", "$${x}", "\\n", "\t", " $ "]);
        } else {
            pieces.extend(["\\n", "\\t", "\\\"", "\\\\", "\\$", "$${x}", "\\r"]);
        }
        if self.allows(PendingFix::ByteStrings) {
            pieces.extend(["é", "日本", "\u{1F600}", "ß"]);
        }
        let n = self.rng.usize(0..4);
        let mut text = String::new();
        for _ in 0..n {
            let piece = pieces[self.rng.usize(..pieces.len())];
            text.push_str(piece);
        }
        if indented {
            let lead = *self.pick(&["", "\n  ", "\n    x\n  "]);
            Node::leaf(format!("''{lead}{text}''"))
        } else {
            Node::leaf(format!("\"{text}\""))
        }
    }

    /// Forms valid at every type.
    fn common(&mut self, ty: &Ty, depth: u32) -> Option<Node> {
        let d = depth - 1;
        Some(match self.rng.u32(0..13) {
            0 => {
                let vars = self.visible_vars(ty);
                if vars.is_empty() {
                    return None;
                }
                Node::leaf(self.pick(&vars).clone())
            }
            1 => {
                let c = self.expr(&Ty::Bool, d.min(2));
                let a = self.expr(ty, d);
                let b = self.expr(ty, d);
                Node::form(&["(if ", " then ", " else ", ")"], vec![c, a, b])
            }
            2 | 3 => self.let_in(ty, d),
            4 => self.with_in(ty, d),
            5 => {
                let name = self.fresh_name();
                let arg_ty = self.ty(1);
                let arg = self.expr(&arg_ty, d);
                self.vars.push(Var {
                    name: name.clone(),
                    ty: arg_ty,
                    from_with: false,
                });
                let body = self.expr(ty, d);
                self.vars.pop();
                Node::form(&[&format!("(({name}: "), ") ", ")"], vec![body, arg])
            }
            6 => self.formals_call(ty, d),
            7 => self.select(ty, d),
            8 => {
                let c = self.expr(&Ty::Bool, d.min(2));
                let body = self.expr(ty, d);
                Node::form(&["(assert ", "; ", ")"], vec![c, body])
            }
            9 => {
                let other = self.ty(1);
                let a = self.expr(&other, d);
                let b = self.expr(ty, d);
                let f = *self.pick(&["seq", "deepSeq", "trace"]);
                Node::form(&[&format!("(builtins.{f} "), " ", ")"], vec![a, b])
            }
            10 => {
                // A caught error becomes the fallback.
                let a = self.expr(ty, d);
                let b = self.expr(ty, d);
                let r = self.fresh_name();
                Node::form(
                    &[
                        &format!("(let {r} = builtins.tryEval "),
                        &format!("; in if {r}.success then {r}.value else "),
                        ")",
                    ],
                    vec![a, b],
                )
            }
            11 => {
                // Call a function variable or a function expression.
                let arg_ty = self.ty(1);
                let fun_ty = Ty::Fun(Box::new(arg_ty.clone()), Box::new(ty.clone()));
                let f = self.expr(&fun_ty, d);
                let a = self.expr(&arg_ty, d);
                Node::form(&["(", " ", ")"], vec![f, a])
            }
            _ => {
                let n = self.rng.usize(1..4);
                let i = self.rng.usize(..n);
                let items = (0..n)
                    .map(|j| {
                        if j == i {
                            self.expr(ty, d)
                        } else {
                            self.expr(ty, d.min(1))
                        }
                    })
                    .collect();
                let list = Node::seq("[ ", items, "]", true);
                if i == 0 && self.rng.bool() {
                    Node::form(&["(builtins.head ", ")"], vec![list])
                } else {
                    Node::form(&["(builtins.elemAt ", &format!(" {i})")], vec![list])
                }
            }
        })
    }

    /// `let` with fresh bindings (each may use the ones before it, or, for
    /// self-referential sets, itself), then a body of type `ty`.
    fn let_in(&mut self, ty: &Ty, d: u32) -> Node {
        let mark = self.vars.len();
        let n = self.rng.usize(1..4);
        let mut bindings = Vec::new();
        for _ in 0..n {
            let t = self.ty(1);
            let name = self.fresh_name();
            let value = if self.allows(PendingFix::PrintCycles) && self.chance(0.1) {
                Node::leaf(format!("{{ self = {name}; }}"))
            } else {
                self.expr(&t, d)
            };
            let is_cycle = value.render().contains("self =");
            self.vars.push(Var {
                name: name.clone(),
                ty: if is_cycle { Ty::Set(Vec::new()) } else { t },
                from_with: false,
            });
            bindings.push(Node::part(&[&format!("{name} = "), ";"], vec![value]));
        }
        if self.chance(0.2) {
            let (field, fty) = (self.attr_name(), self.ty(1));
            if !field.starts_with('"') && !field.contains('-') {
                let src = self.expr(&Ty::Set(vec![(field.clone(), fty.clone())]), d.min(2));
                bindings.push(Node::part(
                    &["inherit (", &format!(") {field};")],
                    vec![src],
                ));
                self.vars.push(Var {
                    name: field,
                    ty: fty,
                    from_with: false,
                });
            }
        }
        let body = self.expr(ty, d);
        self.vars.truncate(mark);
        Node::form(
            &["(let ", " in ", ")"],
            vec![Node::seq("", bindings, "", false), body],
        )
    }

    /// `with` over a set literal, whose plain attribute names become visible.
    fn with_in(&mut self, ty: &Ty, d: u32) -> Node {
        let set_ty = self.ty(2);
        let Ty::Set(fields) = set_ty.clone() else {
            let body = self.expr(ty, d);
            return Node::form(&["(with { }; ", ")"], vec![body]);
        };
        let set = self.expr(&set_ty, d.min(2));
        let mark = self.vars.len();
        for (name, t) in fields {
            if !name.starts_with('"') {
                self.vars.push(Var {
                    name,
                    ty: t,
                    from_with: true,
                });
            }
        }
        let body = self.expr(ty, d);
        self.vars.truncate(mark);
        Node::form(&["(with ", "; ", ")"], vec![set, body])
    }

    /// A function with formals (defaults, `...`, `@` pattern) applied to a set.
    fn formals_call(&mut self, ty: &Ty, d: u32) -> Node {
        let mark = self.vars.len();
        let names = ["p", "q", "r"];
        let count = self.rng.usize(1..4);
        let types: Vec<Ty> = (0..count).map(|_| self.ty(1)).collect();
        let defaults: Vec<bool> = (0..count).map(|_| self.chance(0.4)).collect();
        // The argument set is in the caller's scope: made before the formals are bound.
        let mut args = Vec::new();
        for i in 0..count {
            if !defaults[i] || self.chance(0.5) {
                let v = self.expr(&types[i], d.min(2));
                args.push(Node::part(&[&format!("{} = ", names[i]), ";"], vec![v]));
            }
        }
        // Defaults see every formal.
        for (name, t) in names.iter().zip(&types) {
            self.vars.push(Var {
                name: name.to_string(),
                ty: t.clone(),
                from_with: false,
            });
        }
        let mut formals = Vec::new();
        for i in 0..count {
            if defaults[i] {
                let def = self.expr(&types[i], d.min(2));
                formals.push(Node::part(&[&format!("{} ? ", names[i]), ","], vec![def]));
            } else {
                formals.push(Node::part(&[&format!("{},", names[i])], vec![]));
            }
        }
        let ellipsis = self.chance(0.3);
        if ellipsis || self.chance(0.03) {
            args.push(Node::part(&["extra = 1;"], vec![]));
        }
        let at = if self.chance(0.3) {
            let name = self.fresh_name();
            self.vars.push(Var {
                name: name.clone(),
                ty: Ty::Set(Vec::new()),
                from_with: false,
            });
            format!("@{name}")
        } else {
            String::new()
        };
        let body = self.expr(ty, d);
        self.vars.truncate(mark);
        let close = if ellipsis { "... }" } else { "}" };
        Node::form(
            &["((", &format!("{at}: "), ") ", ")"],
            vec![
                Node::seq("{ ", formals, close, false),
                body,
                Node::seq("{ ", args, "}", true),
            ],
        )
    }

    /// Selecting an attribute of type `ty` from a set: `.a`, `.a or d`,
    /// `getAttr`, dynamic `.${...}`, nested paths.
    fn select(&mut self, ty: &Ty, d: u32) -> Node {
        let name = self.attr_name();
        let mut fields = vec![(name.clone(), ty.clone())];
        if self.rng.bool() {
            let other = self.attr_name();
            if other != name {
                let t = self.ty(1);
                fields.push((other, t));
            }
        }
        let set_ty = Ty::Set(fields);
        match self.rng.u32(0..5) {
            0 => {
                let s = self.expr(&set_ty, d);
                Node::form(&["(", &format!(").{name}")], vec![s])
            }
            1 => {
                // The attribute may be missing: the default is used.
                // The source may be no set at all (the default is used then too).
                let other = if self.chance(0.2) {
                    self.ty(1)
                } else {
                    let t = self.ty(1);
                    Ty::Set(vec![(self.attr_name(), t)])
                };
                let s = self.expr(&other, d);
                let def = self.expr(ty, d);
                Node::form(&["((", &format!(").{name} or "), ")"], vec![s, def])
            }
            2 if !name.starts_with('"') && self.has_builtin("getAttr") => {
                let s = self.expr(&set_ty, d);
                Node::form(&[&format!("(builtins.getAttr \"{name}\" "), ")"], vec![s])
            }
            3 if !name.starts_with('"') => {
                let s = self.expr(&set_ty, d);
                Node::form(&["(", &format!(").${{\"{name}\"}}")], vec![s])
            }
            _ => {
                let outer = Ty::Set(vec![("o".to_string(), set_ty)]);
                let s = self.expr(&outer, d);
                Node::form(&["(", &format!(").o.{name}")], vec![s])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_items() {
        let cfg = GenConfig::default();
        let a: Vec<String> = {
            let mut g = Gen::new(&cfg, 7);
            (0..20).map(|_| g.item().render()).collect()
        };
        let b: Vec<String> = {
            let mut g = Gen::new(&cfg, 7);
            (0..20).map(|_| g.item().render()).collect()
        };
        assert_eq!(a, b);
        let mut g = Gen::new(&cfg, 8);
        let c: Vec<String> = (0..20).map(|_| g.item().render()).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn any_depth_limit_works() {
        for max_depth in 0..4 {
            let cfg = GenConfig {
                max_depth,
                ..GenConfig::default()
            };
            let mut g = Gen::new(&cfg, 3);
            for _ in 0..50 {
                assert!(!g.item().render().is_empty());
            }
        }
    }

    #[test]
    fn pending_classes_are_not_generated() {
        let cfg = GenConfig::default();
        let mut g = Gen::new(&cfg, 1);
        for _ in 0..300 {
            let text = g.item().render();
            assert!(text.is_ascii(), "{text}");
            for name in ["match", "split", "toXML"] {
                assert!(!text.contains(&format!("builtins.{name} ")), "{text}");
            }
        }
    }

    #[test]
    fn items_parse_and_use_only_variables_in_scope() {
        use crate::outcome::{ErrorClass, Outcome};
        let cfg = GenConfig {
            pending: [PendingFix::LexerWhitespace].into_iter().collect(),
            ..GenConfig::default()
        };
        let mut values = 0;
        let mut gens: Vec<Gen> = (42..45).map(|seed| Gen::new(&cfg, seed)).collect();
        for i in 0..600 {
            let text = crate::campaign::single_text(&gens[i % 3].item().render());
            match crate::oracle::eval_nixkit(&text) {
                Outcome::Error(ErrorClass::Syntax | ErrorClass::UndefinedVariable, m) => {
                    panic!("{text}\n{m}")
                }
                Outcome::Value(_) => values += 1,
                Outcome::Error(..) => {}
            }
        }
        // Errors are injected now and then, not everywhere.
        assert!(values > 300, "{values} of 600 items have a value");
    }

    #[test]
    fn with_attributes_are_shadowed_by_lexical_bindings() {
        let cfg = GenConfig::default();
        let mut g = Gen::new(&cfg, 1);
        g.vars.push(Var {
            name: "a".into(),
            ty: Ty::Int,
            from_with: false,
        });
        g.vars.push(Var {
            name: "a".into(),
            ty: Ty::Str,
            from_with: true,
        });
        assert!(g.visible_vars(&Ty::Str).is_empty());
        assert_eq!(g.visible_vars(&Ty::Int), ["a"]);
    }
}
