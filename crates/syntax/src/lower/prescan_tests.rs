//! Tests of the prescan: the limits on nesting depth and runs of terms, and agreement
//! with the parser on what is accepted.
use super::*;

/// The straightforward scan the optimised one must agree with.
mod reference {
    use super::super::*;

    /// Rejects input whose nesting would exhaust the stack or take quadratic
    /// time in rnix, before rnix sees it. A linear scan that knows just enough
    /// of the lexical grammar (strings, comments, interpolation) to find code.
    pub(super) fn prescan(text: &str) -> Option<ParseError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mode {
            Code,
            Dq,
            Ind,
        }
        let b = text.as_bytes();
        // Each open bracket or interpolation, and the mode to return to.
        let mut stack: Vec<(u8, Mode)> = Vec::new();
        // Terms at each nesting level (index 0 is the top level), and
        // whether the level is in the names of an `inherit`.
        let mut terms: Vec<(usize, bool)> = vec![(0, false)];
        // Opens a nesting level; whether that is one too many.
        fn open(
            stack: &mut Vec<(u8, Mode)>,
            terms: &mut Vec<(usize, bool)>,
            level: (u8, Mode),
        ) -> bool {
            stack.push(level);
            terms.push((0, false));
            stack.len() > MAX_NESTING
        }
        let mut mode = Mode::Code;
        let mut prefix = 0usize;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            match mode {
                Mode::Code if PATHLIKE[c as usize] => {
                    let start = i;
                    while i < b.len() && PATHLIKE[b[i] as usize] {
                        i += 1;
                    }
                    let run = &b[start..i];
                    if run.len() > MAX_PATHLIKE_RUN {
                        return Some(ParseError {
                            kind: ParseErrorKind::TokenRunTooLong,
                            span: span_at(start),
                        });
                    }
                    if run.iter().all(|&x| x == b'-' || x == b'!') {
                        prefix += run.len();
                        if prefix > MAX_PREFIX_RUN {
                            return Some(too_deep(start));
                        }
                    } else {
                        prefix = 0;
                    }
                    let in_list = stack.last().is_some_and(|(open, _)| *open == b'[');
                    if let (false, Some((t, false))) = (in_list, terms.last_mut()) {
                        *t += 1;
                        if *t > MAX_TERMS {
                            return Some(too_deep(start));
                        }
                        if run == b"inherit" {
                            if let Some(level) = terms.last_mut() {
                                level.1 = true;
                            }
                        }
                    }
                    // A comment may start right after the run: `a/* ... */`.
                    if b.get(i) == Some(&b'*') && run.last() == Some(&b'/') {
                        i = skip_block_comment(b, i - 1);
                    }
                    continue;
                }
                // Runs of white space (indentation) in one tight loop.
                Mode::Code if matches!(c, b' ' | b'\t' | b'\n' | b'\r') => {
                    i += b[i..]
                        .iter()
                        .position(|&x| !matches!(x, b' ' | b'\t' | b'\n' | b'\r'))
                        .unwrap_or(b.len() - i);
                    continue;
                }
                Mode::Code => {
                    prefix = 0;
                    match c {
                        b'#' => {
                            i += memchr::memchr(b'\n', &b[i..]).unwrap_or(b.len() - i);
                            continue;
                        }
                        b'"' => mode = Mode::Dq,
                        b'\'' if b.get(i + 1) == Some(&b'\'') => {
                            mode = Mode::Ind;
                            i += 1;
                        }
                        b';' | b',' => {
                            if let Some(t) = terms.last_mut() {
                                *t = (0, false);
                            }
                        }
                        b'<' | b'>' | b'|' | b'*' => {
                            let in_list = stack.last().is_some_and(|(open, _)| *open == b'[');
                            if let (false, Some((t, false))) = (in_list, terms.last_mut()) {
                                *t += 1;
                                if *t > MAX_TERMS {
                                    return Some(too_deep(i));
                                }
                            }
                        }
                        b'(' | b'[' | b'{' => {
                            let deep = open(&mut stack, &mut terms, (c, Mode::Code));
                            if deep {
                                return Some(too_deep(i));
                            }
                        }
                        b')' | b']' | b'}' => {
                            if let Some((_, back)) = stack.pop() {
                                mode = back;
                                terms.pop();
                            }
                        }
                        _ => {}
                    }
                }
                // Skip ordinary string bytes in one go.
                Mode::Dq if !matches!(c, b'\\' | b'"' | b'$') => {
                    i += memchr::memchr3(b'\\', b'"', b'$', &b[i..]).unwrap_or(b.len() - i);
                    continue;
                }
                Mode::Ind if !matches!(c, b'\'' | b'$') => {
                    i += memchr::memchr2(b'\'', b'$', &b[i..]).unwrap_or(b.len() - i);
                    continue;
                }
                Mode::Dq => match c {
                    b'\\' => i += 1,
                    b'"' => mode = Mode::Code,
                    b'$' if b.get(i + 1) == Some(&b'{') => {
                        if open(&mut stack, &mut terms, (b'$', Mode::Dq)) {
                            return Some(too_deep(i));
                        }
                        mode = Mode::Code;
                        i += 1;
                    }
                    _ => {}
                },
                Mode::Ind => match c {
                    b'\'' if b.get(i + 1) == Some(&b'\'') => match b.get(i + 2) {
                        Some(b'$') | Some(b'\'') => i += 2,
                        Some(b'\\') => i += 3,
                        _ => {
                            mode = Mode::Code;
                            i += 1;
                        }
                    },
                    b'$' if b.get(i + 1) == Some(&b'{') => {
                        if open(&mut stack, &mut terms, (b'$', Mode::Ind)) {
                            return Some(too_deep(i));
                        }
                        mode = Mode::Code;
                        i += 1;
                    }
                    _ => {}
                },
            }
            i += 1;
        }
        None
    }
}

#[test]
fn byte_classes_agree_with_their_tables() {
    for x in 0..=255u8 {
        assert_eq!(is_pathlike(x), PATHLIKE[x as usize], "{x:#x}");
        assert_eq!(is_stop(x), b"\"'#;*()[]{}".contains(&x), "{x:#x}");
    }
    let block: [u8; 64] = std::array::from_fn(|k| b"a;(\"x'#*]}{[)b "[k % 15]);
    let mask = stop_mask(&block);
    for (k, &x) in block.iter().enumerate() {
        assert_eq!(mask >> k & 1 == 1, is_stop(x), "{k}");
    }
}

/// The counts never accept what the exact scan rejects.
#[test]
fn counts_imply_the_exact_scan_passes() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let pieces = [
        "a", "-", "!", " ", "(", "[", "{", "${", "}", "\"", "''", "#", "\n", "/*", "*/", "<", "x/",
        "*", ";",
    ];
    let mut accepted = 0;
    for _ in 0..2000 {
        let n = 1000 + (rng.next() % 9000) as usize;
        let s = rng.text(&pieces, n, 16, 1100);
        if within_counts(s.as_bytes()) {
            accepted += 1;
            assert_eq!(exact(s.as_bytes()), None, "{s:?}");
        }
    }
    assert!(accepted > 100, "{accepted}");
    assert!(!within_counts("a ".repeat(MAX_TERMS + 1).as_bytes()));
    assert!(!within_counts("x".repeat(MAX_PATHLIKE_RUN + 1).as_bytes()));
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// At least `len` bytes of random `pieces`; one piece in about
    /// `run_one_in` is repeated up to `max_run` times.
    fn text(&mut self, pieces: &[&str], len: usize, run_one_in: u64, max_run: u64) -> String {
        let mut s = String::new();
        while s.len() < len {
            let p = pieces[(self.next() % pieces.len() as u64) as usize];
            let reps = if self.next() % run_one_in == 0 {
                1 + self.next() % max_run
            } else {
                1
            };
            for _ in 0..reps {
                s.push_str(p);
            }
        }
        s
    }
}

fn check(text: &str) {
    assert_eq!(prescan(text), reference::prescan(text), "{text:?}");
}

#[test]
fn agrees_with_the_reference_scan() {
    // Pieces that exercise every state: strings, indented strings,
    // escapes, interpolation, comments, brackets, operators, prefixes.
    let pieces = [
        "a",
        "x-y",
        "-",
        "!",
        "- ",
        "!-",
        " ",
        "\n",
        "\t",
        "#c\n",
        "/*c*/",
        "a/*c*/",
        "/",
        "*",
        "\"",
        "\"s\"",
        "\\",
        "\\\"",
        "''",
        "'''",
        "''$",
        "''\\",
        "'",
        "$",
        "${",
        "}",
        "(",
        ")",
        "[",
        "]",
        "{",
        ";",
        ",",
        "<",
        ">",
        "|",
        "1.5",
        "./p",
        "~",
        "@",
        "?",
        "\r",
        "é",
        "a = b;\n  ",
        "{ x = f y; }",
        "(g z)",
        " [ 1 2 ] ",
        "/* c */",
        "a/*c*/*",
        "*/",
        "\"${x}\"",
        "''${y}''",
        "inherit x;",
        "x: y",
        " - ",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut safe, mut errors) = (0, 0);
    for round in 0..2000 {
        // Mostly inputs past the quick size check, some past the limits
        // on nesting and terms, where long runs of one piece reach them.
        let s = if round % 5 == 0 {
            let n = MAX_NESTING + (rng.next() % (2 * MAX_TERMS) as u64) as usize;
            rng.text(&pieces, n, 8, MAX_NESTING as u64 + 500)
        } else {
            let n = 1000 + (rng.next() % 3000) as usize;
            rng.text(&pieces, n, 8, 1200)
        };
        check(&s);
        safe += usize::from(certainly_safe(s.as_bytes()));
        errors += usize::from(prescan(&s).is_some());
    }
    // Both the quick path and the exact scan (finding errors or not) ran.
    assert!(
        safe > 300 && errors > 20 && safe + errors < 2000,
        "{safe} {errors}"
    );
    for deep in [
        "(".repeat(MAX_NESTING + 1),
        "[".repeat(MAX_NESTING + 1),
        "${".repeat(MAX_NESTING + 1),
        "-".repeat(MAX_PREFIX_RUN + 1),
        "!-".repeat(MAX_PREFIX_RUN / 2 + 100),
    ] {
        check(&deep);
        check(&format!("\"{deep}"));
        check(&format!("''{deep}"));
    }
    check(&"a ".repeat(MAX_TERMS + 1));
    check(&("[ ".repeat(500) + &"a ".repeat(MAX_TERMS + 1000)));
    check(&"a+".repeat(MAX_TERMS + 1000));
    // Flat constructs of any width: formals, the names of an `inherit`.
    for n in [MAX_TERMS / 2, MAX_TERMS + 1, 3 * MAX_TERMS] {
        let formals: String = (0..n).map(|i| format!("a{i} ? {i}, ")).collect();
        let names: String = (0..n).map(|i| format!(" a{i}")).collect();
        for text in [
            format!("{{ {formals} }}: 1"),
            format!("{{ inherit (x){names}; }}"),
            format!("let inherit{names}; in 1"),
        ] {
            check(&text);
            assert_eq!(prescan(&text), None);
        }
        // Past an `inherit`'s `;`, terms count again.
        let chain = format!("{{ inherit a; b = {}; }}", "x ".repeat(n));
        check(&chain);
        assert_eq!(prescan(&chain).is_some(), n > MAX_TERMS);
    }
    check(&"x".repeat(MAX_PATHLIKE_RUN + 1));
}
