//! A cursor over rowan's *green* tree that tracks offsets itself.
//!
//! rowan's red tree (`SyntaxNode`) allocates a node on the heap for every node
//! and token visited; lowering visits each exactly once, so walking the green
//! tree directly is markedly cheaper. The method names follow the red API so
//! the lowering reads the same.

use rnix::{NixLanguage, SyntaxKind};
use rowan::{GreenNodeData, GreenTokenData, Language, NodeOrToken, TextRange, TextSize};

use crate::ast::Span;

/// A node of the green tree at a known offset.
#[derive(Clone, Copy)]
pub(crate) struct Node<'g> {
    green: &'g GreenNodeData,
    offset: u32,
}

/// A token of the green tree at a known offset.
#[derive(Clone, Copy)]
pub(crate) struct Token<'g> {
    green: &'g GreenTokenData,
    offset: u32,
}

/// A child: node or token.
pub(crate) type Elem<'g> = NodeOrToken<Node<'g>, Token<'g>>;

fn kind_of(raw: rowan::SyntaxKind) -> SyntaxKind {
    NixLanguage::kind_from_raw(raw)
}

fn range(offset: u32, len: TextSize) -> TextRange {
    TextRange::at(TextSize::from(offset), len)
}

impl<'g> Node<'g> {
    /// The root of a tree.
    pub(crate) fn root(green: &'g GreenNodeData) -> Node<'g> {
        Node { green, offset: 0 }
    }

    pub(crate) fn kind(&self) -> SyntaxKind {
        kind_of(self.green.kind())
    }

    pub(crate) fn text_range(&self) -> TextRange {
        range(self.offset, self.green.text_len())
    }

    pub(crate) fn span(&self) -> Span {
        let r = self.text_range();
        Span::new(r.start().into(), r.end().into())
    }

    /// Children, nodes and tokens, with their offsets.
    pub(crate) fn children_with_tokens(&self) -> impl Iterator<Item = Elem<'g>> + 'g {
        let mut offset = self.offset;
        self.green.children().map(move |child| {
            let at = offset;
            match child {
                NodeOrToken::Node(n) => {
                    offset += u32::from(n.text_len());
                    NodeOrToken::Node(Node {
                        green: n,
                        offset: at,
                    })
                }
                NodeOrToken::Token(t) => {
                    offset += u32::from(t.text_len());
                    NodeOrToken::Token(Token {
                        green: t,
                        offset: at,
                    })
                }
            }
        })
    }

    /// Child nodes only.
    pub(crate) fn children(&self) -> impl Iterator<Item = Node<'g>> + 'g {
        self.children_with_tokens()
            .filter_map(NodeOrToken::into_node)
    }

    /// The first token in the subtree.
    pub(crate) fn first_token(&self) -> Option<Token<'g>> {
        match self.children_with_tokens().next()? {
            NodeOrToken::Token(t) => Some(t),
            NodeOrToken::Node(n) => n.first_token(),
        }
    }

    /// The last token in the subtree.
    pub(crate) fn last_token(&self) -> Option<Token<'g>> {
        match self.children_with_tokens().last()? {
            NodeOrToken::Token(t) => Some(t),
            NodeOrToken::Node(n) => n.last_token(),
        }
    }

    /// The subtree's text.
    pub(crate) fn text(&self) -> String {
        let mut out = String::with_capacity(u32::from(self.green.text_len()) as usize);
        self.push_text(&mut out);
        out
    }

    fn push_text(&self, out: &mut String) {
        for child in self.green.children() {
            match child {
                NodeOrToken::Token(t) => out.push_str(t.text()),
                NodeOrToken::Node(n) => Node {
                    green: n,
                    offset: 0,
                }
                .push_text(out),
            }
        }
    }
}

impl<'g> Token<'g> {
    pub(crate) fn kind(&self) -> SyntaxKind {
        kind_of(self.green.kind())
    }

    pub(crate) fn text(&self) -> &'g str {
        self.green.text()
    }

    /// The token's identity: rowan stores each distinct token (kind and
    /// text) of a tree once, so equal identifiers mostly share it. Only
    /// meaningful while the tree is alive.
    pub(crate) fn identity(&self) -> usize {
        std::ptr::from_ref::<GreenTokenData>(self.green) as usize
    }

    pub(crate) fn text_range(&self) -> TextRange {
        range(self.offset, self.green.text_len())
    }

    pub(crate) fn span(&self) -> Span {
        let r = self.text_range();
        Span::new(r.start().into(), r.end().into())
    }
}

/// The range of a child, node or token.
pub(crate) fn elem_range(e: &Elem<'_>) -> TextRange {
    match e {
        NodeOrToken::Node(n) => n.text_range(),
        NodeOrToken::Token(t) => t.text_range(),
    }
}

/// Lowering depth past which a tree is dropped by [`KeptGreen`]'s loop
/// rather than by rowan's recursive drop (a level of the lowered tree is a
/// few levels of the green tree, a few hundred bytes of stack each).
const DEEP_TREE: u32 = 256;

/// The green tree a [`crate::Parse`] keeps. rowan frees a tree recursively,
/// one stack frame chain per level, which a deep tree (thousands of nested
/// expressions, a long application) would overflow; a tree that may be deep
/// is freed level by level instead.
#[derive(Clone)]
pub(crate) struct KeptGreen {
    pub(crate) node: rowan::GreenNode,
    /// Whether the tree may be deep: the lowering went deeper than
    /// [`DEEP_TREE`], or stopped early (an error), so its depth is unknown.
    may_be_deep: bool,
}

impl KeptGreen {
    /// `node`, whose lowering reached `lowered_depth` (`None`: unknown).
    pub(crate) fn new(node: rowan::GreenNode, lowered_depth: Option<u32>) -> Self {
        KeptGreen {
            node,
            may_be_deep: !matches!(lowered_depth, Some(d) if d <= DEEP_TREE),
        }
    }
}

impl Drop for KeptGreen {
    fn drop(&mut self) {
        if !self.may_be_deep {
            return;
        }
        // Every node, parents before children, each kept alive by this list.
        let mut nodes = vec![self.node.clone()];
        let mut i = 0;
        while let Some(n) = nodes.get(i).cloned() {
            nodes.extend(
                n.children()
                    .filter_map(|c| c.into_node().map(|c| c.to_owned())),
            );
            i += 1;
        }
        // Give up the tree's own reference, then free parents first: when a
        // node goes, its children are still held by the list, so nothing
        // recurses.
        self.node = rowan::GreenNode::new(self.node.kind(), []);
        for n in nodes {
            drop(n);
        }
    }
}
