// The inputs of `rnix_upstream.rs` and the digest of rnix's output for each; shared with
// the generator of the golden file, which includes this file against unpatched rnix.

use sha2::{Digest, Sha256};
use std::path::Path;

/// Snippets that reach the tokenizer's and the operator parser's corners.
pub(crate) const SNIPPETS: &[&str] = &[
    "1 + 2 * 3 - 4 / 5",
    "a ? b.c ? d ++ e ? f // ! g ? h -> - i ? j",
    "1 < 2 < 3",
    "a == b != c",
    "- a ? b",
    "! a ? b",
    "a + - b * - c",
    "! ! a || ! b && c",
    "f -1",
    "a |> b <| c |> d",
    "x: y: x // y",
    "{ a ? 1, b, ... }@args: a",
    "let a = 1; inherit (b) c d; in a",
    "rec { a.b.c = 1; \"x y\" = 2; ${z} = 3; }",
    "\"a ${b} \\${c} $${d} \\n\\\" e\"",
    "''\n  a ''${b} '''c ''\\n ${d}\n  e''",
    "./a/b ./a/${b}/c /abs/${x} ~/h <nixpkgs/lib> http://x.org/a?b=c",
    "a.b.c or d.e or f",
    "a b or c",
    "[ 1 2.5 .5e3 1e-2 0x 007 ]",
    "# comment\n/* block */ 1 /* unterminated",
    "\u{a0}1\u{85}+\u{2028}2",
    "\"é ä ${\"ü\"}\"",
    "''é''${\"x\"}''",
    "{ a = 1; a = 2; }",
    "if a then b else c",
    "assert a; with b; c",
    "__curPos",
    "{ }: { } : 1",
    "a.${b}.\"c\"",
    "(",
    "}",
    "a +",
    "\"unterminated ${",
    "''unterminated",
    "let in",
    "{ a, a }: a",
    "a//b/c",
    "a/ b",
    "/*/",
];

/// Pieces the mutations insert.
const PIECES: &[&str] = &[
    "${", "}", "''", "'''", "\"", "\\", "$", "/", "//", "/*", "*/", "#", "\n", " ", "\u{a0}",
    "\u{85}", "é", "<", ">", "./", "~/", "a:", "1.", ".5e", "e-", "__curPos", "or", "{", "?",
    "...", "\t", "\r", ":/", "_", "-", "''${", "''\\", "$$", "!", "++", "->", "|>", "<|",
];

/// A deterministic generator (a 64-bit linear congruential one, its high bits), so the
/// inputs are the same everywhere.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n.max(1) as u64) as usize
    }
}

fn boundary_at_or_before(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `base` and eight mutations of it (truncated, pieces inserted, a run deleted).
pub(crate) fn variants(base: &str, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut out = vec![base.to_string()];
    for round in 0..8 {
        let mut t = base.to_string();
        let at = boundary_at_or_before(&t, rng.below(t.len() + 1));
        match round % 4 {
            0 => t.truncate(at),
            1 => t.insert_str(at, PIECES[rng.below(PIECES.len())]),
            2 => {
                let end = boundary_at_or_before(&t, (at + rng.below(40)).min(t.len()));
                t.replace_range(at..end.max(at), "");
            }
            _ => {
                for _ in 0..3 {
                    let q = boundary_at_or_before(&t, rng.below(t.len() + 1));
                    t.insert_str(q, PIECES[rng.below(PIECES.len())]);
                }
            }
        }
        out.push(t);
    }
    out
}

/// Operator chains deep enough to need the parser's stack growth.
pub(crate) fn deep_inputs() -> Vec<(String, String)> {
    let n = 20_000;
    vec![
        ("deep-negate".to_string(), format!("{}1", "-".repeat(n))),
        ("deep-invert".to_string(), format!("{}true", "!".repeat(n))),
        ("deep-concat".to_string(), format!("{}1", "1 ++ ".repeat(n))),
        ("deep-add".to_string(), format!("{}1", "1 + ".repeat(n))),
        (
            "deep-implication".to_string(),
            format!("{}1", "a -> ".repeat(n)),
        ),
        (
            "deep-pipe-left".to_string(),
            format!("{}1", "x <| ".repeat(n)),
        ),
        (
            "deep-parens".to_string(),
            format!("{}1{}", "(".repeat(n / 2), ")".repeat(n / 2)),
        ),
        (
            "deep-mixed-prefix".to_string(),
            format!("{}1", "!- ".repeat(n)),
        ),
    ]
}

/// The SHA-256 of rnix's output for each text: every node and token of the tree in
/// order (kind, range, a token's text), then the error list.
pub(crate) fn digest(texts: &[String]) -> String {
    use rnix::{NodeOrToken, WalkEvent};
    let mut h = Sha256::new();
    for t in texts {
        let parse = rnix::Root::parse(t);
        for event in parse.syntax().preorder_with_tokens() {
            let line = match event {
                WalkEvent::Enter(NodeOrToken::Node(n)) => {
                    format!("+{:?}{:?}", n.kind(), n.text_range())
                }
                WalkEvent::Enter(NodeOrToken::Token(t)) => {
                    format!("{:?}{:?}{:?}", t.kind(), t.text_range(), t.text())
                }
                WalkEvent::Leave(NodeOrToken::Node(_)) => "-".to_string(),
                WalkEvent::Leave(NodeOrToken::Token(_)) => continue,
            };
            h.update(line.as_bytes());
            h.update(b"\n");
        }
        h.update(format!("{:?}\n", parse.errors()).as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Every `.nix` file under `dir`, by path relative to `root`, sorted.
pub(crate) fn nix_files(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            nix_files(root, &p, out);
        } else if p.extension().is_some_and(|e| e == "nix") {
            if let Ok(text) = std::fs::read_to_string(&p) {
                let name = p.strip_prefix(root).unwrap_or(&p).display().to_string();
                out.push((name, text));
            }
        }
    }
}

/// The golden lines, `NAME DIGEST`: each snippet, each deep input, and each `.nix` file of
/// the language tests under `corpus` (when given), with its variants.
pub(crate) fn golden_lines(corpus: Option<&Path>) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, s) in SNIPPETS.iter().enumerate() {
        lines.push(format!(
            "snippet-{i} {}",
            digest(&variants(s, 0x5eed + i as u64))
        ));
    }
    for (name, text) in deep_inputs() {
        lines.push(format!("{name} {}", digest(&[text])));
    }
    if let Some(corpus) = corpus {
        let mut files = Vec::new();
        nix_files(corpus, &corpus.join("nix-lang"), &mut files);
        for (i, (name, text)) in files.iter().enumerate() {
            lines.push(format!(
                "{name} {}",
                digest(&variants(text, 0xc0ffee + i as u64))
            ));
        }
    }
    lines
}
