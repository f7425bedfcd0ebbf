//! Productions per wanted type: operators and builtins giving an integer, a
//! float, a Boolean, a string, a list, a set or a function.

use super::{Gen, Ty, Var};
use crate::expr::Node;
use crate::rules::PendingFix;

impl Gen<'_> {
    /// A form specific to `ty`; `None` when the chosen one does not apply.
    pub(super) fn typed(&mut self, ty: &Ty, depth: u32) -> Option<Node> {
        let d = depth - 1;
        match ty {
            Ty::Int => self.int_form(d),
            Ty::Float => self.float_form(d),
            Ty::Bool => self.bool_form(d),
            Ty::Str => self.str_form(d),
            Ty::Null => Some(self.literal(ty)),
            Ty::List(t) => self.list_form(t, d),
            Ty::Set(fields) => self.set_form(fields, d),
            Ty::Fun(a, r) => self.fun_form(a, r, d),
        }
    }

    /// `builtins.NAME a b ...` if the oracle has the builtin.
    pub(super) fn call(&mut self, name: &str, args: Vec<Node>) -> Option<Node> {
        if !self.has_builtin(name) {
            return None;
        }
        let mut pieces = vec![format!("(builtins.{name} ")];
        for _ in 1..args.len() {
            pieces.push(" ".to_string());
        }
        pieces.push(")".to_string());
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        Some(Node::form(&refs, args))
    }

    fn binop(&mut self, op: &str, a: Node, b: Node) -> Node {
        Node::form(&["(", &format!(" {op} "), ")"], vec![a, b])
    }

    /// The right operand of an arithmetic operator: a literal (non-zero)
    /// while the operand-order fix is pending.
    fn operand(&mut self, ty: &Ty, d: u32) -> Node {
        if self.allows(PendingFix::OperandOrder) {
            return self.expr(ty, d);
        }
        match self.literal(ty) {
            Node::Leaf(t) if t == "0" || t == "0.0" => Node::leaf("1"),
            n => n,
        }
    }

    /// A one-argument function literal `(x: body)` with `x` of type `arg`.
    fn lambda(&mut self, arg: &Ty, ret: &Ty, d: u32) -> Node {
        let name = self.fresh_name();
        self.vars.push(Var {
            name: name.clone(),
            ty: arg.clone(),
            from_with: false,
        });
        let body = self.expr(ret, d);
        self.vars.pop();
        Node::form(&[&format!("({name}: "), ")"], vec![body])
    }

    /// A two-argument function literal `(x: y: body)`.
    fn lambda2(&mut self, a: &Ty, b: &Ty, ret: &Ty, d: u32) -> Node {
        let (x, y) = (self.fresh_name(), self.fresh_name());
        self.vars.push(Var {
            name: x.clone(),
            ty: a.clone(),
            from_with: false,
        });
        self.vars.push(Var {
            name: y.clone(),
            ty: b.clone(),
            from_with: false,
        });
        let body = self.expr(ret, d);
        self.vars.truncate(self.vars.len() - 2);
        Node::form(&[&format!("({x}: {y}: "), ")"], vec![body])
    }

    /// A function literal that must not be an error (`map`, `genList`).
    fn safe_lambda(&mut self, arg: &Ty, ret: &Ty, d: u32) -> Node {
        self.no_errors += 1;
        let name = self.fresh_name();
        self.vars.push(Var {
            name: name.clone(),
            ty: arg.clone(),
            from_with: false,
        });
        self.no_errors -= 1;
        let body = self.expr(ret, d);
        self.vars.pop();
        Node::form(&[&format!("({name}: "), ")"], vec![body])
    }

    fn int_form(&mut self, d: u32) -> Option<Node> {
        let i = |g: &mut Self| g.expr(&Ty::Int, d);
        match self.rng.u32(0..16) {
            0..=3 => {
                let op = *self.pick(&["+", "-", "*", "/"]);
                let (a, b) = (self.expr(&Ty::Int, d), self.operand(&Ty::Int, d));
                Some(self.binop(op, a, b))
            }
            4 => {
                let f = *self.pick(&["add", "sub", "mul", "div", "bitAnd", "bitOr", "bitXor"]);
                let (a, b) = (self.expr(&Ty::Int, d), self.operand(&Ty::Int, d));
                self.call(f, vec![a, b])
            }
            5 => {
                let t = self.ty(1);
                let l = self.expr(&Ty::List(Box::new(t)), d);
                self.call("length", vec![l])
            }
            6 => {
                let s = self.expr(&Ty::Str, d);
                self.call("stringLength", vec![s])
            }
            7 => {
                let f = *self.pick(&["ceil", "floor"]);
                let x = self.expr(&Ty::Float, d);
                self.call(f, vec![x])
            }
            8 => {
                let (a, b) = if self.allows(PendingFix::VersionComponents) {
                    (self.expr(&Ty::Str, d), self.expr(&Ty::Str, d))
                } else {
                    (self.version_literal(), self.version_literal())
                };
                self.call("compareVersions", vec![a, b])
            }
            9 => {
                let f = self.lambda2(&Ty::Int, &Ty::Int, &Ty::Int, d);
                let z = i(self);
                let l = self.expr(&Ty::List(Box::new(Ty::Int)), d);
                self.call("foldl'", vec![f, z, l])
            }
            10 => {
                let a = i(self);
                Some(Node::form(&["(-", ")"], vec![a]))
            }
            11 => {
                let t = self.ty(1);
                let s = self.expr(&t, d);
                let names = self.call("attrNames", vec![s])?;
                self.call("length", vec![names])
            }
            12 => {
                let json = self.json_text(&Ty::Int);
                self.call("fromJSON", vec![json])
            }
            _ => {
                let a = self.expr(&Ty::Float, d);
                let b = self.operand(&Ty::Int, d);
                let op = *self.pick(&["+", "*"]);
                let sum = self.binop(op, a, b);
                self.call("floor", vec![sum])
            }
        }
    }

    fn float_form(&mut self, d: u32) -> Option<Node> {
        let f = |g: &mut Self| g.expr(&Ty::Float, d);
        match self.rng.u32(0..5) {
            0 | 1 => {
                let op = *self.pick(&["+", "-", "*", "/"]);
                let (a, b) = (f(self), self.operand(&Ty::Float, d));
                Some(self.binop(op, a, b))
            }
            2 => {
                let op = *self.pick(&["+", "-", "*", "/"]);
                let (a, b) = if self.rng.bool() {
                    (f(self), self.operand(&Ty::Int, d))
                } else {
                    (self.expr(&Ty::Int, d), self.operand(&Ty::Float, d))
                };
                Some(self.binop(op, a, b))
            }
            3 => {
                let name = *self.pick(&["add", "sub", "mul", "div"]);
                let (a, b) = (f(self), self.operand(&Ty::Int, d));
                self.call(name, vec![a, b])
            }
            _ => {
                let json = self.json_text(&Ty::Float);
                self.call("fromJSON", vec![json])
            }
        }
    }

    fn bool_form(&mut self, d: u32) -> Option<Node> {
        let b = |g: &mut Self| g.expr(&Ty::Bool, d);
        let k = if self.allows(PendingFix::Equality) && self.chance(0.15) {
            15
        } else {
            self.rng.u32(0..16)
        };
        match k {
            0 => {
                let a = b(self);
                Some(Node::form(&["(!", ")"], vec![a]))
            }
            1 | 2 => {
                let op = *self.pick(&["&&", "||", "->"]);
                let (x, y) = (b(self), b(self));
                Some(self.binop(op, x, y))
            }
            3 | 4 => {
                let t = self.pick(&[Ty::Int, Ty::Float, Ty::Str, Ty::Int]).clone();
                let t2 = if t == Ty::Float && self.rng.bool() {
                    Ty::Int
                } else {
                    t.clone()
                };
                let op = *self.pick(&["<", "<=", ">", ">="]);
                let (x, y) = (self.expr(&t, d), self.expr(&t2, d));
                Some(self.binop(op, x, y))
            }
            5 | 6 => {
                let t = if self.allows(PendingFix::Equality) {
                    self.ty(2)
                } else {
                    self.plain_ty(2)
                };
                let op = *self.pick(&["==", "!="]);
                let x = self.expr(&t, d);
                let y = if self.chance(0.3) {
                    x.clone()
                } else {
                    self.expr(&t, d)
                };
                Some(self.binop(op, x, y))
            }
            7 => {
                let t = self.ty(2);
                let s = self.expr(&t, d);
                let name = self.attr_name();
                let path = if self.chance(0.2) {
                    format!("{name}.b")
                } else {
                    name
                };
                Some(Node::form(&["(", &format!(" ? {path})")], vec![s]))
            }
            8 | 9 => {
                let f = *self.pick(&[
                    "isInt",
                    "isFloat",
                    "isBool",
                    "isString",
                    "isNull",
                    "isList",
                    "isAttrs",
                    "isFunction",
                    "isPath",
                ]);
                let t = self.ty(2);
                let x = self.expr(&t, d);
                self.call(f, vec![x])
            }
            10 => {
                let t = self.ty(2);
                let s = self.expr(&t, d);
                let name = self.attr_name().trim_matches('"').to_string();
                self.call("hasAttr", vec![Node::leaf(format!("\"{name}\"")), s])
            }
            11 => {
                let t = if self.allows(PendingFix::Equality) {
                    self.ty(1)
                } else {
                    self.plain_ty(1)
                };
                let x = self.expr(&t, d);
                let l = self.expr(&Ty::List(Box::new(t)), d);
                self.call("elem", vec![x, l])
            }
            12 => {
                let name = *self.pick(&["all", "any"]);
                let t = self.ty(1);
                let f = self.lambda(&t, &Ty::Bool, d);
                let l = self.expr(&Ty::List(Box::new(t)), d);
                self.call(name, vec![f, l])
            }
            13 => {
                let t = self.pick(&[Ty::Int, Ty::Str, Ty::Float]).clone();
                let (x, y) = (self.expr(&t, d), self.expr(&t, d));
                self.call("lessThan", vec![x, y])
            }
            14 => {
                let t = self.ty(2);
                let x = self.expr(&t, d);
                let r = self.call("tryEval", vec![x])?;
                Some(Node::form(&["(", ").success"], vec![r]))
            }
            15 if self.allows(PendingFix::Equality) && self.rng.bool() => {
                // One value compared with itself (identity before structure).
                let x = match self.rng.u32(0..4) {
                    0 => self.lambda(&Ty::Int, &Ty::Int, d),
                    1 => Node::leaf(format!("[ (throw \"dtthrow {}\") ]", self.rng.u32(0..100))),
                    _ => {
                        let t = self.ty(2);
                        self.expr(&t, d)
                    }
                };
                let v = self.fresh_name();
                let form = *self.pick(&[
                    "{v} == {v}",
                    "{v} != {v}",
                    "builtins.elem {v} [ {v} ]",
                    "[ {v} ] < [ {v} ]",
                    "[ {v} ] == [ {v} ]",
                    "{ a = {v}; } == { a = {v}; }",
                ]);
                let body = form.replace("{v}", &v);
                Some(Node::form(
                    &[&format!("(let {v} = "), &format!("; in {body})")],
                    vec![x],
                ))
            }
            _ => {
                if !self.allows(PendingFix::Equality) {
                    return None;
                }
                let t = self.ty(1);
                let op = *self.pick(&["<", "<="]);
                let l = Ty::List(Box::new(t));
                let (x, y) = (self.expr(&l, d), self.expr(&l, d));
                Some(self.binop(op, x, y))
            }
        }
    }

    fn str_form(&mut self, d: u32) -> Option<Node> {
        let s = |g: &mut Self| g.expr(&Ty::Str, d);
        match self.rng.u32(0..20) {
            0 | 1 => {
                let (a, b) = (s(self), s(self));
                Some(self.binop("+", a, b))
            }
            2 | 3 => {
                let (a, b) = (s(self), s(self));
                let pre = *self.pick(&["", "x", "a\\n", "\\${"]);
                Some(Node::form(
                    &[&format!("\"{pre}${{"), "}-${", "}\""],
                    vec![a, b],
                ))
            }
            4 => {
                let a = s(self);
                Some(Node::form(&["''\n  line ${", "}\n    more\n''"], vec![a]))
            }
            5 | 6 => {
                let t = self
                    .pick(&[Ty::Int, Ty::Bool, Ty::Null, Ty::Str, Ty::Float])
                    .clone();
                let t = if self.chance(0.3) {
                    Ty::List(Box::new(t))
                } else {
                    t
                };
                let x = self.expr(&t, d);
                self.call("toString", vec![x])
            }
            7 => {
                let sep = s(self);
                let l = self.expr(&Ty::List(Box::new(Ty::Str)), d);
                self.call("concatStringsSep", vec![sep, l])
            }
            8 | 9 => {
                // Small literals: 2.8 truncates these arguments to 32 bits.
                let a = Node::leaf(self.rng.i64(0..6).to_string());
                let b = match self.rng.u32(0..4) {
                    0 => Node::leaf("(-1)"),
                    _ => Node::leaf(self.rng.i64(0..6).to_string()),
                };
                let x = s(self);
                self.call("substring", vec![a, b, x])
            }
            10 => {
                let from = self.expr(&Ty::List(Box::new(Ty::Str)), d);
                // A literal: 2.8 forces every replacement, modern CppNix only used ones.
                let to = self.literal(&Ty::List(Box::new(Ty::Str)));
                let x = s(self);
                self.call("replaceStrings", vec![from, to, x])
            }
            11 => {
                self.no_floats += 1;
                let t = self.plain_ty(2);
                let x = self.expr(&t, d);
                self.no_floats -= 1;
                self.call("toJSON", vec![x])
            }
            12 => {
                let t = self.ty(2);
                let x = self.expr(&t, d);
                self.call("typeOf", vec![x])
            }
            13 => {
                let algo = *self.pick(&["\"md5\"", "\"sha1\"", "\"sha256\"", "\"sha512\""]);
                let x = s(self);
                self.call("hashString", vec![Node::leaf(algo), x])
            }
            14 => {
                let f = *self.pick(&["baseNameOf", "dirOf", "unsafeDiscardStringContext"]);
                let x = s(self);
                self.call(f, vec![x])
            }
            15 => {
                let x = s(self);
                let field = *self.pick(&["name", "version"]);
                let r = self.call("parseDrvName", vec![x])?;
                Some(Node::form(&["(", &format!(").{field}")], vec![r]))
            }
            16 => {
                if !self.allows(PendingFix::ToXml) {
                    return None;
                }
                let t = self.ty(2);
                let x = self.expr(&t, d);
                self.call("toXML", vec![x])
            }
            17 => {
                let json = self.json_text(&Ty::Str);
                self.call("fromJSON", vec![json])
            }
            18 => {
                let l = self.expr(&Ty::List(Box::new(Ty::Str)), d);
                let f = self.lambda(&Ty::Str, &Ty::Str, d);
                let mapped = self.call("map", vec![f, l])?;
                self.call("concatStringsSep", vec![Node::leaf("\",\""), mapped])
            }
            _ => {
                let x = self.expr(&Ty::Int, d);
                Some(Node::form(&["\"n=${toString ", "}\""], vec![x]))
            }
        }
    }

    fn list_form(&mut self, t: &Ty, d: u32) -> Option<Node> {
        let list_ty = Ty::List(Box::new(t.clone()));
        match self.rng.u32(0..18) {
            0..=2 => {
                let n = self.rng.usize(0..4);
                let items = (0..n).map(|_| self.expr(t, d)).collect();
                Some(Node::seq("[ ", items, "]", true))
            }
            3 => {
                let (a, b) = (self.expr(&list_ty, d), self.expr(&list_ty, d));
                Some(self.binop("++", a, b))
            }
            4 | 5 => {
                let from = self.ty(1);
                let f = self.safe_lambda(&from, t, d);
                let l = self.expr(&Ty::List(Box::new(from)), d);
                self.call("map", vec![f, l])
            }
            6 => {
                let f = self.lambda(t, &Ty::Bool, d);
                let l = self.expr(&list_ty, d);
                self.call("filter", vec![f, l])
            }
            7 => {
                let f = self.safe_lambda(&Ty::Int, t, d);
                let n = Node::leaf(self.rng.i64(-1..6).to_string());
                let n = if n.render().starts_with('-') {
                    Node::form(&["(", ")"], vec![n])
                } else {
                    n
                };
                self.call("genList", vec![f, n])
            }
            8 => {
                let cmp = if matches!(t, Ty::Int | Ty::Str | Ty::Float) && self.rng.bool() {
                    Node::leaf("builtins.lessThan")
                } else {
                    self.lambda2(t, t, &Ty::Bool, d)
                };
                let l = self.expr(&list_ty, d);
                self.call("sort", vec![cmp, l])
            }
            9 => {
                let l = self.expr(&list_ty, d);
                self.call("tail", vec![l])
            }
            10 => {
                let ll = self.expr(&Ty::List(Box::new(list_ty.clone())), d);
                self.call("concatLists", vec![ll])
            }
            11 => {
                let from = self.ty(1);
                let f = self.lambda(&from, &list_ty, d);
                let l = self.expr(&Ty::List(Box::new(from)), d);
                self.call("concatMap", vec![f, l])
            }
            12 => {
                let fields: Vec<(String, Ty)> = (0..self.rng.usize(0..3))
                    .map(|i| (["a", "b", "c"][i].to_string(), t.clone()))
                    .collect();
                let s = self.expr(&Ty::Set(fields), d);
                self.call("attrValues", vec![s])
            }
            13 => {
                let sets = Ty::List(Box::new(Ty::Set(vec![("a".to_string(), t.clone())])));
                let l = self.expr(&sets, d);
                self.call("catAttrs", vec![Node::leaf("\"a\""), l])
            }
            14 => {
                let f = self.lambda(t, &Ty::Bool, d);
                let l = if self.allows(PendingFix::ListElementForcing) {
                    self.expr(&list_ty, d)
                } else {
                    self.literal(&list_ty)
                };
                let part = self.call("partition", vec![f, l])?;
                let side = *self.pick(&["right", "wrong"]);
                Some(Node::form(&["(", &format!(").{side}")], vec![part]))
            }
            15 if *t == Ty::Str => {
                let f = *self.pick(&["attrNames", "splitVersion"]);
                let x = if f == "attrNames" {
                    let st = self.ty(2);
                    self.expr(&st, d)
                } else {
                    self.expr(&Ty::Str, d)
                };
                self.call(f, vec![x])
            }
            16 if *t == Ty::Str || matches!(t, Ty::List(_)) => {
                if !self.allows(PendingFix::Regex) {
                    return None;
                }
                let re = self.regex();
                let x = self.expr(&Ty::Str, d);
                let f = *self.pick(&["match", "split"]);
                self.call(f, vec![re, x])
            }
            _ => {
                let json = self.json_text(&list_ty);
                self.call("fromJSON", vec![json])
            }
        }
    }

    fn set_form(&mut self, fields: &[(String, Ty)], d: u32) -> Option<Node> {
        let set_ty = Ty::Set(fields.to_vec());
        match self.rng.u32(0..10) {
            0..=2 => {
                let rec = self.chance(0.2);
                let mut items = Vec::new();
                for (name, t) in fields {
                    let v = self.expr(t, d);
                    items.push(Node::part(&[&format!("{name} = "), ";"], vec![v]));
                }
                if self.chance(0.3) {
                    let v = self.expr(&Ty::Int, d.min(1));
                    items.push(Node::part(&["\"${\"dyn\"}\" = ", ";"], vec![v]));
                }
                let open = if rec { "rec { " } else { "{ " };
                Some(Node::seq(open, items, "}", true))
            }
            3 | 4 => {
                let other = self.ty(2);
                let left = match other {
                    Ty::Set(_) => self.expr(&other, d),
                    _ => Node::leaf("{ }"),
                };
                // Rule `UpdateOperandOrder`: modern CppNix evaluates the right
                // operand first, 2.8 the left; a literal right side cannot fail.
                let right = self.literal(&set_ty);
                Some(self.binop("//", left, right))
            }
            5 => {
                let mut items = Vec::new();
                for (name, t) in fields {
                    let v = self.expr(t, d);
                    let name = name.trim_matches('"');
                    items.push(Node::part(
                        &[&format!("{{ name = \"{name}\"; value = "), "; }"],
                        vec![v],
                    ));
                }
                self.call("listToAttrs", vec![Node::seq("[ ", items, "]", true)])
            }
            6 => {
                let (n, v) = (self.fresh_name(), self.fresh_name());
                let all_same = fields.iter().all(|(_, t)| *t == fields[0].1);
                if fields.is_empty() || !all_same {
                    return None;
                }
                let src = self.expr(&set_ty, d);
                self.vars.push(Var {
                    name: n.clone(),
                    ty: Ty::Str,
                    from_with: false,
                });
                self.vars.push(Var {
                    name: v.clone(),
                    ty: fields[0].1.clone(),
                    from_with: false,
                });
                let body = self.expr(&fields[0].1, d);
                self.vars.truncate(self.vars.len() - 2);
                let f = Node::form(&[&format!("({n}: {v}: "), ")"], vec![body]);
                self.call("mapAttrs", vec![f, src])
            }
            7 => {
                let s = self.expr(&set_ty, d);
                let extra = self.attr_name().trim_matches('"').to_string();
                if fields.iter().any(|(n, _)| n.trim_matches('"') == extra) {
                    return None;
                }
                self.call(
                    "removeAttrs",
                    vec![s, Node::leaf(format!("[ \"{extra}\" \"zz\" ]"))],
                )
            }
            8 => {
                let s = self.expr(&set_ty, d);
                let other = Ty::Set(vec![(self.attr_name(), Ty::Int)]);
                let o = self.expr(&other, d);
                let inter = self.call("intersectAttrs", vec![o, s.clone()])?;
                Some(self.binop("//", s, inter))
            }
            _ => {
                let mut items = Vec::new();
                for (name, t) in fields {
                    if name.starts_with('"') {
                        let v = self.expr(t, d);
                        items.push(Node::part(&[&format!("{name} = "), ";"], vec![v]));
                    } else {
                        let v = self.expr(t, d);
                        items.push(Node::part(
                            &[&format!("inherit ({{ {name} = "), &format!("; }}) {name};")],
                            vec![v],
                        ));
                    }
                }
                Some(Node::seq("{ ", items, "}", true))
            }
        }
    }

    fn fun_form(&mut self, arg: &Ty, ret: &Ty, d: u32) -> Option<Node> {
        match self.rng.u32(0..4) {
            0 | 1 => Some(self.lambda(arg, ret, d)),
            2 => {
                // A curried builtin, partially applied.
                let name = match (arg, ret) {
                    (Ty::Int, Ty::Int) => *self.pick(&["add", "mul", "sub", "bitAnd"]),
                    (Ty::Str, Ty::Str) => {
                        let prefix = self.expr(&Ty::Str, d);
                        return Some(Node::form(&["(s: ", " + s)"], vec![prefix]));
                    }
                    _ => return None,
                };
                let x = self.expr(&Ty::Int, d);
                self.call(name, vec![x])
            }
            _ => {
                // A function returned by a function.
                let (x, y) = (self.fresh_name(), self.fresh_name());
                let t = self.ty(1);
                let captured = self.expr(&t, d);
                self.vars.push(Var {
                    name: x.clone(),
                    ty: t,
                    from_with: false,
                });
                self.vars.push(Var {
                    name: y.clone(),
                    ty: arg.clone(),
                    from_with: false,
                });
                let body = self.expr(ret, d);
                self.vars.truncate(self.vars.len() - 2);
                Some(Node::form(
                    &[&format!("(({x}: {y}: "), ") ", ")"],
                    vec![body, captured],
                ))
            }
        }
    }

    /// A JSON text whose value has type `ty` (and, when strict `fromJSON` is
    /// not pending, sometimes an invalid or edge-case text).
    fn json_text(&mut self, ty: &Ty) -> Node {
        if self.allows(PendingFix::FromJson) && self.no_floats == 0 && self.chance(0.3) {
            let odd = *self.pick(&[
                "1.",
                "01",
                "-01",
                "1e400",
                "\\\"\\\\ud800\\\"",
                "[1,]",
                "{\\\"a\\\":1,}",
                " 1 ",
                "1e5",
                "-0",
                "[]",
                "{}",
                "\\\"\\\\u00e9\\\"",
                "true",
                "nul",
            ]);
            return Node::leaf(format!("\"{odd}\""));
        }
        let text = match ty {
            Ty::Int => self.rng.i64(-100..100).to_string(),
            Ty::Float => self.pick(&["1.5", "-0.25", "2.0", "1e2"]).to_string(),
            Ty::Str => self
                .pick(&[
                    "\\\"a\\\"",
                    "\\\"x\\\\ny\\\"",
                    "\\\"\\\"",
                    "\\\"\\\\u0001\\\\u001f\\\\/\\\"",
                ])
                .to_string(),
            Ty::List(t) if **t == Ty::Int => "[1, 2, 3]".to_string(),
            Ty::List(t) if **t == Ty::Str => "[\\\"a\\\", \\\"b\\\"]".to_string(),
            Ty::List(_) => "[]".to_string(),
            _ => "null".to_string(),
        };
        Node::leaf(format!("\"{text}\""))
    }

    /// A version string literal (components within 32 bits).
    fn version_literal(&mut self) -> Node {
        let v = *self.pick(&[
            "\"1.2.3\"",
            "\"1.2\"",
            "\"1.2pre\"",
            "\"2.0-rc1\"",
            "\"\"",
            "\"a.b\"",
            "\"10\"",
        ]);
        Node::leaf(v)
    }

    /// A POSIX extended regular expression (as a Nix string literal).
    fn regex(&mut self) -> Node {
        let re = *self.pick(&[
            "a",
            "(a)",
            "(a|ab)(c|bcd)(d*)",
            ".*",
            "(.)",
            "[[:alpha:]]+",
            "([a-z]+)-([0-9]*)",
            "\\\\d",
            "(?:a)",
            "a{2,}",
            "[^ ]*",
            "(x)?y",
            "",
            "(a*)*",
            "\\\\.",
        ]);
        Node::leaf(format!("\"{re}\""))
    }
}
