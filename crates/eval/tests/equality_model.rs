//! `==` and `builtins.elem` against a reference model of CppNix's
//! `eqValues`: random nested values (numbers, strings, lists, sets, fresh
//! and shared functions, a shared throwing value, a shared list) compared
//! by nixkit must give what the model gives, `true`, `false` or an error.
//!
//! The model: both sides are forced first (a throwing side is an error);
//! then, for list items, attribute values and `elem`'s needle against each
//! item, the same stored value (two references to one `let` binding) is
//! equal to itself without being looked into; then structure: ints and
//! floats compare numerically, sets of different sizes are unequal, sets
//! compare attribute by attribute, functions are never equal.

use nixkit_eval::{Evaluator, Value};
use proptest::prelude::*;

/// The shared `let` bindings every generated expression may refer to.
const PRELUDE: &str =
    "let f0 = x: x; f1 = y: y; t = throw \"boom\"; s0 = [ 1 f0 ]; a0 = { k = f1; };";

#[derive(Clone, Debug)]
enum E {
    Int(i64),
    Float(f64),
    Str(&'static str),
    Null,
    Bool(bool),
    List(Vec<E>),
    Attrs(Vec<(&'static str, E)>),
    Lambda,
    /// A reference to a shared binding of [`PRELUDE`].
    Var(&'static str),
}

fn render(e: &E, out: &mut String) {
    match e {
        E::Int(i) => out.push_str(&format!("({i})")),
        E::Float(f) => out.push_str(&format!("({f:?})")),
        E::Str(s) => out.push_str(&format!("\"{s}\"")),
        E::Null => out.push_str("null"),
        E::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        E::List(items) => {
            out.push_str("[ ");
            for i in items {
                render(i, out);
                out.push(' ');
            }
            out.push(']');
        }
        E::Attrs(attrs) => {
            out.push_str("{ ");
            for (k, v) in attrs {
                out.push_str(k);
                out.push_str(" = ");
                render(v, out);
                out.push_str("; ");
            }
            out.push('}');
        }
        E::Lambda => out.push_str("(z: z)"),
        E::Var(v) => out.push_str(v),
    }
}

fn expr() -> impl Strategy<Value = E> {
    let leaf = prop_oneof![
        (-2i64..3).prop_map(E::Int),
        prop::sample::select(vec![0.0, 1.0, 1.5, -2.0]).prop_map(E::Float),
        prop::sample::select(vec!["", "a", "b"]).prop_map(E::Str),
        Just(E::Null),
        any::<bool>().prop_map(E::Bool),
        Just(E::Lambda),
        prop::sample::select(vec!["f0", "f1", "t", "s0", "a0"]).prop_map(E::Var),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(E::List),
            prop::collection::btree_map(prop::sample::select(vec!["a", "b", "c"]), inner, 0..3)
                .prop_map(|m| E::Attrs(m.into_iter().collect())),
        ]
    })
}

/// Two expressions, often the same one written twice (where sharing and
/// forcing make the difference).
fn pair() -> impl Strategy<Value = (E, E)> {
    prop_oneof![(expr(), expr()), expr().prop_map(|a| (a.clone(), a)),]
}

/// A value of the model: what an expression evaluates to.
#[derive(Clone, Debug)]
enum M {
    Num(f64),
    Str(&'static str),
    Null,
    Bool(bool),
    List(Vec<E>),
    Attrs(Vec<(&'static str, E)>),
    Function,
    Throws,
}

fn force(e: &E) -> M {
    match e {
        E::Int(i) => M::Num(*i as f64),
        E::Float(f) => M::Num(*f),
        E::Str(s) => M::Str(s),
        E::Null => M::Null,
        E::Bool(b) => M::Bool(*b),
        E::List(items) => M::List(items.clone()),
        E::Attrs(a) => M::Attrs(a.clone()),
        E::Lambda | E::Var("f0" | "f1") => M::Function,
        E::Var("s0") => M::List(vec![E::Int(1), E::Var("f0")]),
        E::Var("a0") => M::Attrs(vec![("k", E::Var("f1"))]),
        E::Var(_) => M::Throws,
    }
}

/// How a comparison fails: surely, or maybe (it may also be `false`, when
/// the order in which attributes are compared decides).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fails {
    Surely,
    Maybe,
}

/// `Err(_)` when the comparison throws.
fn eq(x: &E, y: &E, as_cells: bool) -> Result<bool, Fails> {
    let (a, b) = (force(x), force(y));
    if matches!(a, M::Throws) || matches!(b, M::Throws) {
        return Err(Fails::Surely);
    }
    if as_cells {
        if let (E::Var(p), E::Var(q)) = (x, y) {
            if p == q {
                return Ok(true);
            }
        }
    }
    Ok(match (a, b) {
        (M::Num(p), M::Num(q)) => p == q,
        (M::Str(p), M::Str(q)) => p == q,
        (M::Null, M::Null) => true,
        (M::Bool(p), M::Bool(q)) => p == q,
        (M::List(p), M::List(q)) => {
            if p.len() != q.len() {
                return Ok(false);
            }
            for (i, j) in p.iter().zip(&q) {
                if !eq(i, j, true)? {
                    return Ok(false);
                }
            }
            true
        }
        (M::Attrs(p), M::Attrs(q)) => {
            if p.len() != q.len() {
                return Ok(false);
            }
            // Names are compared in the evaluator's symbol order, which the
            // model does not know: with different names the answer is false
            // unless a value compared first throws.
            if p.iter().map(|(k, _)| k).ne(q.iter().map(|(k, _)| k)) {
                let same_names = p.iter().filter(|(k, _)| q.iter().any(|(l, _)| l == k));
                let can_throw = same_names
                    .filter_map(|(k, i)| q.iter().find(|(l, _)| l == k).map(|(_, j)| (i, j)))
                    .any(|(i, j)| eq(i, j, true).is_err());
                return if can_throw {
                    Err(Fails::Maybe)
                } else {
                    Ok(false)
                };
            }
            // The attributes are compared in symbol order, which the model
            // does not know either: one that throws and one that differs
            // make both outcomes possible (an error allows `false`).
            let results: Vec<Result<bool, Fails>> = p
                .iter()
                .zip(&q)
                .map(|((_, i), (_, j))| eq(i, j, true))
                .collect();
            if results.iter().any(Result::is_err) {
                let differs = results.contains(&Ok(false));
                let maybe = results.contains(&Err(Fails::Maybe));
                return Err(if differs || maybe {
                    Fails::Maybe
                } else {
                    Fails::Surely
                });
            }
            results.iter().all(|r| *r == Ok(true))
        }
        _ => false,
    })
}

fn nixkit(expr: &str) -> Result<bool, String> {
    let mut ev = Evaluator::builder().build();
    match ev.eval_str(expr, "/").and_then(|v| ev.force(&v)) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("not a bool: {other:?}")),
        Err(e) => Err(e.message().to_string()),
    }
}

/// Whether the model's answer allows nixkit's: an error in the model
/// allows an error, or `false` where the attribute order decides.
fn agrees(model: Result<bool, Fails>, got: &Result<bool, String>) -> bool {
    match (model, got) {
        (Ok(m), Ok(g)) => m == *g,
        (Err(_), Err(_)) => true,
        (Err(Fails::Maybe), Ok(false)) => true,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn equality_follows_eq_values((a, b) in pair()) {
        let (mut x, mut y) = (String::new(), String::new());
        render(&a, &mut x);
        render(&b, &mut y);
        let model = eq(&a, &b, false);
        let got = nixkit(&format!("{PRELUDE} in {x} == {y}"));
        prop_assert!(agrees(model, &got), "{x} == {y}: model {model:?}, nixkit {got:?}");
    }

    #[test]
    fn elem_compares_items_as_stored_values(
        (a, b) in pair(),
        mut items in prop::collection::vec(expr(), 0..3),
        at in any::<prop::sample::Index>(),
    ) {
        items.insert(at.index(items.len() + 1), b);
        let mut x = String::new();
        render(&a, &mut x);
        let list = E::List(items.clone());
        let mut l = String::new();
        render(&list, &mut l);
        let mut model = Ok(false);
        for item in &items {
            match eq(&a, item, true) {
                Ok(true) => { model = Ok(true); break; }
                Ok(false) => {}
                // Either answer is possible from here on.
                Err(Fails::Maybe) => return Ok(()),
                Err(Fails::Surely) => { model = Err(Fails::Surely); break; }
            }
        }
        let got = nixkit(&format!("{PRELUDE} in builtins.elem {x} {l}"));
        prop_assert!(agrees(model, &got), "elem {x} {l}: model {model:?}, nixkit {got:?}");
    }
}
