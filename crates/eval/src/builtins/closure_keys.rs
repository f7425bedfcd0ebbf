//! `genericClosure`'s seen keys, kept as modern CppNix keeps them: while
//! every key is a string, a path or an integer (the kind of the first key),
//! in a hash set; a key of another kind is then compared with the first key
//! (`<`'s rules), which fails as CppNix fails. Otherwise (a first key of
//! another kind, or a float after integers) in CppNix's
//! `std::map<Value *, Value *, CompareValues>`: a red-black tree inserted
//! into as libstdc++'s `_Rb_tree` inserts (the same walk, the same
//! rebalancing), so the same pairs of keys are compared in the same order
//! and argument order. That decides which keys are duplicates (neither is
//! less than the other: `1` and `1.0`, a NaN and anything) and which
//! comparison fails when keys are incomparable (functions, sets, a list
//! holding one), with CppNix's error. When the integers move to the tree,
//! they go in the order they came (CppNix's hash map's order is its own;
//! integers never fail to compare, only the tree's shape can differ).

use std::collections::HashSet;

use crate::error::{EvalError, EvalResult};
use crate::source::Pos;
use crate::value::Value;

/// `less(a, b)`: `a < b` by `<`'s rules.
pub(crate) type Less<'a> = dyn FnMut(&Value, &Value) -> EvalResult<bool> + 'a;

/// The keys seen so far, and the element of each (for error traces).
#[derive(Default)]
pub(crate) struct ClosureKeys {
    mode: Mode,
    /// The first key and its element: what a key of another kind is
    /// compared with.
    first: Option<(Value, Value)>,
}

#[derive(Default)]
enum Mode {
    #[default]
    Empty,
    Strings(HashSet<Box<str>>),
    Paths(HashSet<Box<str>>),
    /// The integers in the order they came, with their elements.
    Ints(HashSet<i64>, Vec<(Value, Value)>),
    Tree(KeySet),
}

impl ClosureKeys {
    /// Records `key` (of element `elem`); whether no equal key was seen.
    /// A failed comparison carries CppNix's traces.
    pub(crate) fn insert(
        &mut self,
        key: Value,
        elem: &Value,
        less: &mut Less<'_>,
        show: &dyn Fn(&Value) -> String,
    ) -> EvalResult<bool> {
        let traced = |e: EvalError, other: &Value| {
            e.with_frame(format!("with element {}", show(other)), Pos::NONE)
                .with_frame(format!("while comparing element {}", show(elem)), Pos::NONE)
        };
        if self.first.is_none() {
            self.first = Some((key.clone(), elem.clone()));
            self.mode = match &key {
                Value::String(_) => Mode::Strings(HashSet::new()),
                Value::Path(_) => Mode::Paths(HashSet::new()),
                Value::Int(_) => Mode::Ints(HashSet::new(), Vec::new()),
                _ => Mode::Tree(KeySet::default()),
            };
        }
        let mismatch = |less: &mut Less<'_>, first: &Option<(Value, Value)>| -> EvalError {
            let Some((k0, e0)) = first else {
                return EvalError::eval("genericClosure: no first key");
            };
            match less(&key, k0) {
                Err(e) => traced(e, e0),
                // Keys of two kinds always fail to compare.
                Ok(_) => EvalError::eval("genericClosure: keys of two kinds compared"),
            }
        };
        match (&mut self.mode, &key) {
            (Mode::Strings(set), Value::String(s)) => Ok(set.insert(s.as_str().into())),
            (Mode::Paths(set), Value::Path(p)) => Ok(set.insert(p.as_str().into())),
            (Mode::Ints(set, order), Value::Int(i)) => {
                let new = set.insert(*i);
                if new {
                    order.push((key.clone(), elem.clone()));
                }
                Ok(new)
            }
            (Mode::Ints(_, order), Value::Float(_)) => {
                let mut tree = KeySet::default();
                for (k, e) in std::mem::take(order) {
                    tree.insert(k, e, less)?;
                }
                self.mode = Mode::Tree(tree);
                self.insert_in_tree(key, elem, less, &traced)
            }
            (Mode::Tree(_), _) => self.insert_in_tree(key, elem, less, &traced),
            _ => Err(mismatch(less, &self.first)),
        }
    }

    fn insert_in_tree(
        &mut self,
        key: Value,
        elem: &Value,
        less: &mut Less<'_>,
        traced: &dyn Fn(EvalError, &Value) -> EvalError,
    ) -> EvalResult<bool> {
        let Mode::Tree(tree) = &mut self.mode else {
            return Ok(true);
        };
        match tree.insert(key.clone(), elem.clone(), less) {
            Ok(new) => Ok(new),
            Err(e) => {
                // The first key, in order, that fails to compare with it.
                for (other, other_elem) in tree.in_order() {
                    if less(&key, other).is_err() {
                        return Err(traced(e, other_elem));
                    }
                }
                Err(e.with_frame(
                    format!(
                        "while checking key of element {}",
                        crate::print::show_for_error(elem)
                    ),
                    Pos::NONE,
                ))
            }
        }
    }
}

struct Node {
    key: Value,
    elem: Value,
    parent: Option<usize>,
    left: Option<usize>,
    right: Option<usize>,
    red: bool,
}

/// A tree of keys (and their elements) as libstdc++'s `std::map`.
#[derive(Default)]
pub(crate) struct KeySet {
    nodes: Vec<Node>,
    root: Option<usize>,
    /// The least key (libstdc++'s `begin()`).
    leftmost: Option<usize>,
}

impl KeySet {
    /// Inserts `key` unless a key equal to it (neither less) is present;
    /// `less(a, b)` is CppNix's `CompareValues(a, b)`. Whether it was new.
    pub(crate) fn insert(
        &mut self,
        key: Value,
        elem: Value,
        less: &mut Less<'_>,
    ) -> EvalResult<bool> {
        // `_M_get_insert_unique_pos`: walk down, then check the neighbour.
        let mut x = self.root;
        let mut parent = None;
        let mut went_left = true;
        while let Some(n) = x {
            parent = Some(n);
            went_left = less(&key, &self.nodes[n].key)?;
            x = if went_left {
                self.nodes[n].left
            } else {
                self.nodes[n].right
            };
        }
        let mut neighbour = parent;
        if went_left {
            if neighbour == self.leftmost {
                self.attach(key, elem, parent, went_left);
                return Ok(true);
            }
            neighbour = neighbour.map(|n| self.predecessor(n));
        }
        if let Some(j) = neighbour {
            if !less(&self.nodes[j].key, &key)? {
                return Ok(false);
            }
        }
        // `_M_insert_` compares the key with `parent` again to choose the
        // side: the comparison just made, with the same answer.
        self.attach(key, elem, parent, went_left);
        Ok(true)
    }

    /// The keys and their elements, least first.
    fn in_order(&self) -> Vec<(&Value, &Value)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = Vec::new();
        let mut at = self.root;
        while at.is_some() || !stack.is_empty() {
            while let Some(n) = at {
                stack.push(n);
                at = self.nodes[n].left;
            }
            let Some(n) = stack.pop() else { break };
            out.push((&self.nodes[n].key, &self.nodes[n].elem));
            at = self.nodes[n].right;
        }
        out
    }

    /// The node before `n` in order (`n` is not the least).
    fn predecessor(&self, n: usize) -> usize {
        if let Some(mut m) = self.nodes[n].left {
            while let Some(r) = self.nodes[m].right {
                m = r;
            }
            return m;
        }
        let mut child = n;
        while let Some(p) = self.nodes[child].parent {
            if self.nodes[p].left != Some(child) {
                return p;
            }
            child = p;
        }
        child
    }

    /// `_Rb_tree_insert_and_rebalance`.
    fn attach(&mut self, key: Value, elem: Value, parent: Option<usize>, left: bool) {
        let x = self.nodes.len();
        self.nodes.push(Node {
            key,
            elem,
            parent,
            left: None,
            right: None,
            red: true,
        });
        match parent {
            None => {
                self.root = Some(x);
                self.leftmost = Some(x);
            }
            Some(p) if left => {
                self.nodes[p].left = Some(x);
                if self.leftmost == Some(p) {
                    self.leftmost = Some(x);
                }
            }
            Some(p) => self.nodes[p].right = Some(x),
        }
        let mut x = x;
        while let Some(p) = self.nodes[x].parent.filter(|&p| self.nodes[p].red) {
            // A red parent is not the root, so it has a parent.
            let Some(g) = self.nodes[p].parent else { break };
            let parent_is_left = self.nodes[g].left == Some(p);
            let uncle = if parent_is_left {
                self.nodes[g].right
            } else {
                self.nodes[g].left
            };
            if let Some(u) = uncle.filter(|&u| self.nodes[u].red) {
                self.nodes[p].red = false;
                self.nodes[u].red = false;
                self.nodes[g].red = true;
                x = g;
                continue;
            }
            let mut p = p;
            if parent_is_left && self.nodes[p].right == Some(x) {
                x = p;
                self.rotate_left(x);
                p = self.nodes[x].parent.unwrap_or(p);
            } else if !parent_is_left && self.nodes[p].left == Some(x) {
                x = p;
                self.rotate_right(x);
                p = self.nodes[x].parent.unwrap_or(p);
            }
            self.nodes[p].red = false;
            self.nodes[g].red = true;
            if parent_is_left {
                self.rotate_right(g);
            } else {
                self.rotate_left(g);
            }
        }
        if let Some(r) = self.root {
            self.nodes[r].red = false;
        }
    }

    /// Puts `n` where its parent was: `child` (`n`'s new parent) takes `n`'s
    /// place under `n`'s old parent.
    fn replace_child(&mut self, n: usize, child: usize) {
        let up = self.nodes[n].parent;
        self.nodes[child].parent = up;
        match up {
            None => self.root = Some(child),
            Some(u) if self.nodes[u].left == Some(n) => self.nodes[u].left = Some(child),
            Some(u) => self.nodes[u].right = Some(child),
        }
        self.nodes[n].parent = Some(child);
    }

    fn rotate_left(&mut self, n: usize) {
        let Some(r) = self.nodes[n].right else { return };
        let inner = self.nodes[r].left;
        self.nodes[n].right = inner;
        if let Some(i) = inner {
            self.nodes[i].parent = Some(n);
        }
        self.replace_child(n, r);
        self.nodes[r].left = Some(n);
    }

    fn rotate_right(&mut self, n: usize) {
        let Some(l) = self.nodes[n].left else { return };
        let inner = self.nodes[l].right;
        self.nodes[n].left = inner;
        if let Some(i) = inner {
            self.nodes[i].parent = Some(n);
        }
        self.replace_child(n, l);
        self.nodes[l].right = Some(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: &Value) -> i64 {
        match v {
            Value::Int(i) => *i,
            _ => -1,
        }
    }

    /// In-order keys, and each path's black count (equal in a red-black tree).
    fn check(set: &KeySet, n: Option<usize>, out: &mut Vec<i64>) -> usize {
        let Some(n) = n else { return 1 };
        let node = &set.nodes[n];
        if node.red {
            for c in [node.left, node.right].into_iter().flatten() {
                assert!(!set.nodes[c].red, "red node with a red child");
            }
        }
        let l = check(set, node.left, out);
        out.push(int(&node.key));
        let r = check(set, node.right, out);
        assert_eq!(l, r, "unequal black heights");
        l + usize::from(!node.red)
    }

    #[test]
    fn keeps_distinct_keys_sorted_and_balanced() {
        let mut set = KeySet::default();
        let mut less = |a: &Value, b: &Value| Ok(int(a) < int(b));
        let mut model = std::collections::BTreeSet::new();
        // A scrambled sequence with repeats.
        for i in 0..500i64 {
            let k = (i * 7919) % 211;
            assert_eq!(
                set.insert(Value::Int(k), Value::Null, &mut less).ok(),
                Some(model.insert(k))
            );
        }
        let mut keys = Vec::new();
        check(&set, set.root, &mut keys);
        assert_eq!(
            set.in_order()
                .iter()
                .map(|(k, _)| int(k))
                .collect::<Vec<_>>(),
            keys
        );
        assert_eq!(keys, model.into_iter().collect::<Vec<_>>());
        let depth_bound = 2 * (usize::BITS - keys.len().leading_zeros()) as usize;
        fn depth(set: &KeySet, n: Option<usize>) -> usize {
            n.map_or(0, |n| {
                1 + depth(set, set.nodes[n].left).max(depth(set, set.nodes[n].right))
            })
        }
        assert!(depth(&set, set.root) <= depth_bound);
    }

    /// The comparisons libstdc++ makes for these insertions (traced by hand
    /// from `_M_get_insert_unique_pos`): the new key first, then the
    /// neighbour's check.
    #[test]
    fn compares_as_libstdcxx() {
        let mut set = KeySet::default();
        let mut log = Vec::new();
        let mut less = |a: &Value, b: &Value| {
            log.push((int(a), int(b)));
            Ok(int(a) < int(b))
        };
        for k in [5, 3, 8, 3] {
            set.insert(Value::Int(k), Value::Null, &mut less).ok();
        }
        assert_eq!(
            log,
            vec![
                (3, 5), // 3 < 5: left of the least, inserted
                (8, 5),
                (5, 8), // 8 right of 5; neighbour 5 < 8
                (3, 5),
                (3, 3), // 3 left of 5, then right of 3;
                (3, 3)  // neighbour 3 < 3 is false: a duplicate
            ]
        );
    }
}
