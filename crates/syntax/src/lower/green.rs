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
