//! Rarer forms: `rec` sets referring to their own attributes, callable sets
//! (`__functor`), coercions through `__toString`/`outPath`, paths, and the
//! builtins over sets and lists of sets (`groupBy`, `zipAttrsWith`,
//! `genericClosure`, `functionArgs`, `listToAttrs` with duplicates).

use super::{Gen, Ty, Var};
use crate::expr::Node;

impl Gen<'_> {
    /// A rarer form of type `ty`; `None` when the chosen one does not apply.
    pub(super) fn extra(&mut self, ty: &Ty, d: u32) -> Option<Node> {
        match self.rng.u32(0..9) {
            0 => Some(self.rec_select(ty, d)),
            1 => Some(self.functor_call(ty, d)),
            2 => self.chain(ty, d),
            _ => match ty {
                Ty::Str => self.extra_str(d),
                Ty::Int => self.extra_int(d),
                Ty::Bool => self.extra_bool(d),
                Ty::List(t) if **t == Ty::Str => self.extra_str_list(d),
                Ty::Set(fields) => self.listed_set(fields, d),
                _ => None,
            },
        }
    }

    /// `(rec { x = E; y = ...x...; }).y`: an attribute using another one.
    fn rec_select(&mut self, ty: &Ty, d: u32) -> Node {
        let t = self.ty(1);
        let first = self.fresh_name();
        let second = self.fresh_name();
        let v1 = self.expr(&t, d);
        self.vars.push(Var {
            name: first.clone(),
            ty: t,
            from_with: false,
        });
        let v2 = self.expr(ty, d);
        self.vars.pop();
        Node::form(
            &[
                &format!("(rec {{ {first} = "),
                &format!("; {second} = "),
                &format!("; }}).{second}"),
            ],
            vec![v1, v2],
        )
    }

    /// `({ __functor = self: x: body; } arg)`.
    fn functor_call(&mut self, ty: &Ty, d: u32) -> Node {
        let arg_ty = self.ty(1);
        let (me, x) = (self.fresh_name(), self.fresh_name());
        let arg = self.expr(&arg_ty, d);
        self.vars.push(Var {
            name: x.clone(),
            ty: arg_ty,
            from_with: false,
        });
        let body = self.expr(ty, d);
        self.vars.pop();
        Node::form(
            &[&format!("({{ __functor = {me}: {x}: "), "; } ", ")"],
            vec![body, arg],
        )
    }

    /// An operator chain without parentheses (precedence and associativity):
    /// operands are literals or variables.
    fn chain(&mut self, ty: &Ty, d: u32) -> Option<Node> {
        let _ = d;
        let (ops, operand_ty): (&[&str], Ty) = match ty {
            Ty::Int => (&["+", "-", "*", "/", "-", "-"], Ty::Int),
            // `==` and `!=` do not associate: not chained.
            Ty::Bool => (&["&&", "||", "->"], Ty::Bool),
            Ty::Str => (&["+"], Ty::Str),
            Ty::List(t) => {
                let t = (**t).clone();
                let n = self.rng.usize(2..5);
                let items: Vec<Node> = (0..n)
                    .map(|_| self.leaf(&Ty::List(Box::new(t.clone()))))
                    .collect();
                let mut pieces = vec!["(".to_string()];
                pieces.extend((1..n).map(|_| " ++ ".to_string()));
                pieces.push(")".to_string());
                let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
                return Some(Node::form(&refs, items));
            }
            Ty::Set(_) => {
                let left = self.leaf(ty);
                let right = self.leaf(ty);
                let middle = self.leaf(&Ty::Set(Vec::new()));
                return Some(Node::form(
                    &["(", " // ", " // ", ")"],
                    vec![middle, left, right],
                ));
            }
            _ => return None,
        };
        let n = self.rng.usize(2..5);
        let mut items = Vec::new();
        let mut pieces = vec!["(".to_string()];
        for i in 0..n {
            let prefix = if ty == &Ty::Bool && self.chance(0.2) {
                "!"
            } else if ty == &Ty::Int && self.chance(0.1) {
                "-"
            } else {
                ""
            };
            items.push(self.leaf(&operand_ty));
            if i + 1 < n {
                let op = *self.pick(ops);
                pieces.push(format!(" {op} {prefix}"));
            } else {
                pieces.push(")".to_string());
            }
        }
        // The prefix of the first operand goes into the opening piece.
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        Some(Node::form(&refs, items))
    }

    fn extra_str(&mut self, d: u32) -> Option<Node> {
        Some(match self.rng.u32(0..9) {
            6 => {
                let toml = *self.pick(&[
                    "a = \"x\"",
                    "a = 'lit'\nb = 1",
                    "[t]\na = \"in table\"",
                    "a = \"\"\"multi\nline\"\"\"",
                    "a = [1, 2]",
                    "a = ",
                ]);
                Node::leaf(format!(
                    "(builtins.toString (builtins.fromTOML ''{toml}'').a or \"none\")"
                ))
            }
            7 => Node::leaf(*self.pick(&[
                "(builtins.placeholder \"out\")",
                "(builtins.toString (builtins.toPath \"/a/../b\"))",
                "builtins.storeDir",
                "(builtins.toString (builtins.attrNames (builtins.getContext \"x\")))",
            ])),
            8 => {
                // Nested attribute paths in one set literal merge.
                let (a, b) = (self.expr(&Ty::Str, d), self.expr(&Ty::Str, d));
                Node::form(&["({ o.p = ", "; o.q = ", "; }).o.p"], vec![a, b])
            }
            0 => {
                let s = self.expr(&Ty::Str, d);
                let me = self.fresh_name();
                Node::form(
                    &[
                        &format!("(builtins.toString {{ __toString = {me}: "),
                        "; })",
                    ],
                    vec![s],
                )
            }
            1 => {
                let s = self.expr(&Ty::Str, d);
                Node::form(&["\"<${ { outPath = ", "; } }>\""], vec![s])
            }
            2 => {
                // Path arithmetic, printed through toString (never copied to the store).
                let s = self.expr(&Ty::Str, d);
                let base = *self.pick(&["/tmp/dt", "/.", "/a/b/../c", "/x.y"]);
                Node::form(&[&format!("(builtins.toString ({base} + "), "))"], vec![s])
            }
            3 => {
                let f = *self.pick(&["baseNameOf", "dirOf"]);
                let p = *self.pick(&["/a/b.c", "/a", "/.", "/x/y/z"]);
                Node::leaf(format!("(builtins.toString (builtins.{f} {p}))"))
            }
            4 => {
                self.no_floats += 1;
                let t = self.plain_ty(1);
                let s = self.expr(&t, d);
                self.no_floats -= 1;
                Node::form(
                    &["(builtins.toJSON { outPath = \"o\"; a = ", "; })"],
                    vec![s],
                )
            }
            _ => {
                let x = self.expr(&Ty::Str, d);
                let s = self.call("hasContext", vec![x])?;
                Node::form(&["(if ", " then \"ctx\" else \"none\")"], vec![s])
            }
        })
    }

    fn extra_int(&mut self, d: u32) -> Option<Node> {
        match self.rng.u32(0..4) {
            3 => {
                // The list may be empty.
                let l = self.expr(&Ty::List(Box::new(Ty::Int)), d);
                let f = *self.pick(&["head", "length"]);
                self.call(f, vec![l])
            }
            0 => {
                let n = self.rng.i64(0..6);
                // A small start: a very negative one would iterate for long.
                let start = Node::leaf(match self.rng.i64(-3..6) {
                    i if i < 0 => format!("({i})"),
                    i => i.to_string(),
                });
                let k = self.fresh_name();
                let closure = Node::form(
                    &[
                        "(builtins.genericClosure { startSet = [ { key = ",
                        &format!(
                            "; }} ]; operator = {k}: if {k}.key < {n} then [ {{ key = {k}.key + 1; }} {{ key = {k}.key; }} ] else [ ]; }})"
                        ),
                    ],
                    vec![start],
                );
                self.call("length", vec![closure])
            }
            1 => {
                // Any index: out of range now and then.
                let l = self.expr(&Ty::List(Box::new(Ty::Int)), d);
                let i = Node::leaf(match self.rng.i64(-1..4) {
                    -1 => "(-1)".to_string(),
                    i => i.to_string(),
                });
                self.call("elemAt", vec![l, i])
            }
            _ => {
                let t = self.ty(1);
                let l = self.expr(&Ty::List(Box::new(t)), d);
                let x = self.fresh_name();
                let key = Node::leaf(format!("({x}: builtins.typeOf {x})"));
                let grouped = self.call("groupBy", vec![key, l])?;
                let names = self.call("attrNames", vec![grouped])?;
                self.call("length", vec![names])
            }
        }
    }

    fn extra_bool(&mut self, d: u32) -> Option<Node> {
        let name = *self.pick(&["p", "q", "r"]);
        let def = self.expr(&Ty::Int, d.min(1));
        let f = Node::form(&["({ p, q ? ", ", ... }: p)"], vec![def]);
        let args = self.call("functionArgs", vec![f])?;
        Some(Node::form(
            &["((", &format!(").{name} or false)")],
            vec![args],
        ))
    }

    fn extra_str_list(&mut self, d: u32) -> Option<Node> {
        let t = self.ty(1);
        let sets = Ty::List(Box::new(Ty::Set(vec![
            ("a".to_string(), t.clone()),
            ("b".to_string(), Ty::Str),
        ])));
        let l = self.expr(&sets, d);
        let (n, vs) = (self.fresh_name(), self.fresh_name());
        let f = Node::leaf(format!("({n}: {vs}: builtins.length {vs})"));
        let zipped = self.call("zipAttrsWith", vec![f, l])?;
        self.call("attrNames", vec![zipped])
    }

    /// A set from `listToAttrs` with duplicate names (the first one wins).
    fn listed_set(&mut self, fields: &[(String, Ty)], d: u32) -> Option<Node> {
        let mut items = Vec::new();
        for (name, t) in fields {
            let name = name.trim_matches('"');
            let v = self.expr(t, d);
            items.push(Node::part(
                &[&format!("{{ name = \"{name}\"; value = "), "; }"],
                vec![v],
            ));
            let other = self.ty(1);
            let w = self.expr(&other, d.min(1));
            items.push(Node::part(
                &[&format!("{{ name = \"{name}\"; value = "), "; }"],
                vec![w],
            ));
        }
        self.call("listToAttrs", vec![Node::seq("[ ", items, "]", true)])
    }
}
