//! `genericClosure`'s set of seen keys, which compares keys exactly as
//! CppNix's `std::set<Value *, CompareValues>` does: a red-black tree
//! inserted into as libstdc++'s `_Rb_tree` inserts (the same walk, the same
//! rebalancing), so the same pairs of keys are compared in the same order
//! and argument order. That decides which keys are duplicates (neither is
//! less than the other: `1` and `1.0`, a NaN and anything) and which
//! comparison fails when keys are incomparable (functions, sets, a list
//! holding one, keys of different types), with CppNix's error.

use crate::error::EvalResult;
use crate::value::Value;

struct Node {
    key: Value,
    parent: Option<usize>,
    left: Option<usize>,
    right: Option<usize>,
    red: bool,
}

/// The keys seen so far.
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
        less: &mut impl FnMut(&Value, &Value) -> EvalResult<bool>,
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
                self.attach(key, parent, went_left);
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
        self.attach(key, parent, went_left);
        Ok(true)
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
    fn attach(&mut self, key: Value, parent: Option<usize>, left: bool) {
        let x = self.nodes.len();
        self.nodes.push(Node {
            key,
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
                set.insert(Value::Int(k), &mut less).ok(),
                Some(model.insert(k))
            );
        }
        let mut keys = Vec::new();
        check(&set, set.root, &mut keys);
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
            set.insert(Value::Int(k), &mut less).ok();
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
