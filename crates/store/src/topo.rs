//! Topological ordering of a reference graph without recursion, so a reference chain of any
//! length (a 30,000-path closure, a substituted chain) cannot overflow the stack.

use std::collections::{BTreeMap, BTreeSet};

/// Orders `nodes` so that every node comes after the nodes (in the set) it refers to, as a
/// depth-first walk in ascending order would. `refs` gives a node's references; references
/// outside `nodes` and self-references are ignored, and a cycle is broken where it is met.
/// The walk keeps its own stack on the heap.
pub fn topo_sort<K, E>(
    nodes: &BTreeSet<K>,
    mut refs: impl FnMut(&K) -> Result<Vec<K>, E>,
) -> Result<Vec<K>, E>
where
    K: Ord + Clone,
{
    let mut out = Vec::with_capacity(nodes.len());
    // false: on the current walk's stack; true: placed in `out`.
    let mut state: BTreeMap<K, bool> = BTreeMap::new();
    // The references still to visit, last first, so they are popped in ascending order.
    let mut children = |node: &K| -> Result<Vec<K>, E> {
        let mut c: Vec<K> = refs(node)?
            .into_iter()
            .filter(|r| r != node && nodes.contains(r))
            .collect();
        c.sort_unstable();
        c.dedup();
        c.reverse();
        Ok(c)
    };
    for root in nodes {
        if state.contains_key(root) {
            continue;
        }
        state.insert(root.clone(), false);
        let mut stack = vec![(root.clone(), children(root)?)];
        while let Some((_, pending)) = stack.last_mut() {
            if let Some(child) = pending.pop() {
                if state.contains_key(&child) {
                    continue;
                }
                state.insert(child.clone(), false);
                let grandchildren = children(&child)?;
                stack.push((child, grandchildren));
            } else if let Some((node, _)) = stack.pop() {
                state.insert(node.clone(), true);
                out.push(node);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sort(edges: &[(u32, &[u32])]) -> Vec<u32> {
        let map: BTreeMap<u32, Vec<u32>> = edges.iter().map(|(k, v)| (*k, v.to_vec())).collect();
        let nodes: BTreeSet<u32> = map.keys().copied().collect();
        topo_sort::<u32, ()>(&nodes, |n| Ok(map.get(n).cloned().unwrap_or_default()))
            .unwrap_or_default()
    }

    #[test]
    fn references_come_first() {
        assert_eq!(sort(&[(1, &[3]), (2, &[1]), (3, &[])]), vec![3, 1, 2]);
        assert_eq!(sort(&[(1, &[2, 3]), (2, &[3]), (3, &[3])]), vec![3, 2, 1]);
    }

    #[test]
    fn cycles_and_outside_references_do_not_loop() {
        assert_eq!(sort(&[(1, &[2, 9]), (2, &[1])]), vec![2, 1]);
    }

    #[test]
    fn long_chain_on_a_small_stack() {
        let n = 200_000u32;
        let nodes: BTreeSet<u32> = (0..n).collect();
        let order = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                topo_sort::<u32, ()>(&nodes, |&k| Ok(if k == 0 { vec![] } else { vec![k - 1] }))
            })
            .expect("spawn")
            .join()
            .expect("no overflow")
            .unwrap_or_default();
        assert_eq!(order, (0..n).collect::<Vec<_>>());
    }
}
