//! The generated expression tree: text with holes, rendered to Nix source, and
//! the edits the shrinker tries on it (replace a node, drop a list item or binding).

use std::fmt::Write as _;

/// A node of a generated expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// An expression without sub-expressions (literal, variable).
    Leaf(String),
    /// Text pieces around children: `pieces.len() == kids.len() + 1`.
    /// `expr` says whether the node is an expression (the shrinker may
    /// replace it) or a part of one (a binding, an attribute).
    Form {
        /// Text before, between and after the children.
        pieces: Vec<String>,
        /// The children.
        kids: Vec<Node>,
        /// Whether this node stands where an expression may stand.
        expr: bool,
    },
    /// Items between `open` and `close`, each one removable, separated by a
    /// space (list items, attribute bindings, `let` bindings).
    Seq {
        /// Text before the first item.
        open: String,
        /// The items.
        items: Vec<Node>,
        /// Text after the last item.
        close: String,
        /// Whether this node stands where an expression may stand.
        expr: bool,
    },
}

impl Node {
    /// A leaf.
    pub fn leaf(text: impl Into<String>) -> Node {
        Node::Leaf(text.into())
    }

    /// An expression made of text pieces and children (`pieces` one longer than `kids`).
    pub fn form(pieces: &[&str], kids: Vec<Node>) -> Node {
        Node::Form {
            pieces: pieces.iter().map(|p| p.to_string()).collect(),
            kids,
            expr: true,
        }
    }

    /// A part of an expression (a binding) made of text pieces and children.
    pub fn part(pieces: &[&str], kids: Vec<Node>) -> Node {
        Node::Form {
            pieces: pieces.iter().map(|p| p.to_string()).collect(),
            kids,
            expr: false,
        }
    }

    /// A sequence of removable items.
    pub fn seq(open: &str, items: Vec<Node>, close: &str, expr: bool) -> Node {
        Node::Seq {
            open: open.to_string(),
            items,
            close: close.to_string(),
            expr,
        }
    }

    /// Whether the node stands where an expression may stand.
    pub fn is_expr(&self) -> bool {
        match self {
            Node::Leaf(_) => true,
            Node::Form { expr, .. } | Node::Seq { expr, .. } => *expr,
        }
    }

    /// The Nix source text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
        match self {
            Node::Leaf(t) => out.push_str(t),
            Node::Form { pieces, kids, .. } => {
                for (i, piece) in pieces.iter().enumerate() {
                    out.push_str(piece);
                    if let Some(k) = kids.get(i) {
                        k.render_into(out);
                    }
                }
            }
            Node::Seq {
                open, items, close, ..
            } => {
                out.push_str(open);
                for item in items {
                    item.render_into(out);
                    out.push(' ');
                }
                out.push_str(close);
            }
        }
    }

    /// The number of nodes in the tree.
    pub fn size(&self) -> usize {
        1 + self.children().iter().map(|c| c.size()).sum::<usize>()
    }

    fn children(&self) -> &[Node] {
        match self {
            Node::Leaf(_) => &[],
            Node::Form { kids, .. } => kids,
            Node::Seq { items, .. } => items,
        }
    }

    fn children_mut(&mut self) -> &mut [Node] {
        match self {
            Node::Leaf(_) => &mut [],
            Node::Form { kids, .. } => kids,
            Node::Seq { items, .. } => items,
        }
    }

    /// Every node's path (child indexes from the root), in pre-order.
    pub fn paths(&self) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        let mut stack = vec![(self, Vec::new())];
        while let Some((node, path)) = stack.pop() {
            for (i, c) in node.children().iter().enumerate().rev() {
                let mut p = path.clone();
                p.push(i);
                stack.push((c, p));
            }
            out.push(path);
        }
        out
    }

    /// The node at `path`, if any.
    pub fn at(&self, path: &[usize]) -> Option<&Node> {
        let mut node = self;
        for &i in path {
            node = node.children().get(i)?;
        }
        Some(node)
    }

    fn at_mut(&mut self, path: &[usize]) -> Option<&mut Node> {
        let mut node = self;
        for &i in path {
            node = node.children_mut().get_mut(i)?;
        }
        Some(node)
    }

    /// The tree with the node at `path` replaced by `with`.
    pub fn replaced(&self, path: &[usize], with: Node) -> Option<Node> {
        let mut copy = self.clone();
        *copy.at_mut(path)? = with;
        Some(copy)
    }

    /// The tree with item `index` of the sequence at `path` removed.
    pub fn without_item(&self, path: &[usize], index: usize) -> Option<Node> {
        let mut copy = self.clone();
        match copy.at_mut(path)? {
            Node::Seq { items, .. } if index < items.len() => {
                items.remove(index);
                Some(copy)
            }
            _ => None,
        }
    }

    /// Smaller trees to try in place of this one, smallest first: each
    /// removable item dropped, each expression node replaced by one of its
    /// expression descendants or by a trivial literal.
    pub fn shrink_candidates(&self) -> Vec<Node> {
        let mut out = self.edits();
        out.sort_by_cached_key(|n| n.render().len());
        out.dedup();
        out
    }

    fn edits(&self) -> Vec<Node> {
        let mut out = Vec::new();
        for path in self.paths() {
            let Some(node) = self.at(&path) else { continue };
            if let Node::Seq { items, .. } = node {
                for i in 0..items.len() {
                    out.extend(self.without_item(&path, i));
                }
            }
        }
        for path in self.paths() {
            let Some(node) = self.at(&path) else { continue };
            if !node.is_expr() {
                continue;
            }
            let mut descendants = Vec::new();
            collect_expr_descendants(node, &mut descendants);
            for d in descendants {
                out.extend(self.replaced(&path, d));
            }
            for lit in ["null", "0", "true", "\"\"", "[ ]", "{ }"] {
                if node.render() != lit {
                    out.extend(self.replaced(&path, Node::leaf(lit)));
                }
            }
        }
        out
    }

    /// An indented rendering of the tree's shape (for debugging the generator).
    pub fn outline(&self) -> String {
        let mut out = String::new();
        for path in self.paths() {
            if let Some(n) = self.at(&path) {
                let kind = match n {
                    Node::Leaf(_) => "leaf",
                    Node::Form { .. } => "form",
                    Node::Seq { .. } => "seq",
                };
                let _ = writeln!(out, "{}{kind}", "  ".repeat(path.len()));
            }
        }
        out
    }
}

fn collect_expr_descendants(node: &Node, out: &mut Vec<Node>) {
    for c in node.children() {
        if c.is_expr() {
            out.push(c.clone());
        } else {
            collect_expr_descendants(c, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Node {
        Node::form(
            &["(let ", " in ", ")"],
            vec![
                Node::seq(
                    "",
                    vec![Node::part(&["x = ", ";"], vec![Node::leaf("1")])],
                    "",
                    false,
                ),
                Node::seq("[ ", vec![Node::leaf("x"), Node::leaf("2")], "]", true),
            ],
        )
    }

    #[test]
    fn renders_text_with_children_in_place() {
        assert_eq!(sample().render(), "(let x = 1;  in [ x 2 ])");
        assert_eq!(sample().size(), 7);
    }

    #[test]
    fn shrink_candidates_are_smaller_and_include_removals_and_replacements() {
        let tree = sample();
        let cands = tree.shrink_candidates();
        let texts: Vec<String> = cands.iter().map(Node::render).collect();
        assert!(texts.contains(&"(let  in [ x 2 ])".to_string()));
        assert!(texts.contains(&"(let x = 1;  in [ 2 ])".to_string()));
        assert!(texts.contains(&"[ x 2 ]".to_string()));
        assert!(texts.contains(&"null".to_string()));
        // A binding is not an expression: never replaced by a literal.
        assert!(!texts.contains(&"(let null in [ x 2 ])".to_string()));
        assert!(cands.iter().all(|c| c != &tree));
    }
}
