//! A differential fuzzer: random well-scoped Nix expressions evaluated by
//! nixkit (in-process) and by CppNix 2.8 (`nix-instantiate --eval --strict`)
//! side by side; divergences are shrunk and saved.
//!
//! # How it works
//! - [`gen`] writes random expressions, deterministic from a seed, over the
//!   language (`let`, `rec`, `with`, functions with formals, defaults and `@`
//!   patterns, attribute sets, lists, strings with escapes and
//!   interpolation, indented strings, arithmetic, comparisons, `//`, `?`,
//!   `or`, `assert`, `if`) and the builtins, with arguments of the right type
//!   and, now and then, of the wrong type, or errors (`throw`, `abort`,
//!   failing `assert`).
//! - [`campaign`] evaluates many items in one CppNix process (each wrapped in
//!   `tryEval (deepSeq ...)`), bisects a batch that disagrees down to single
//!   items, compares single items by [`outcome`] (the printed value, or the
//!   error's class: throw, abort, assertion, type, missing attribute, ...;
//!   messages are not compared), shrinks each divergence by delta debugging
//!   over the expression tree ([`expr`]) and writes it as a `.nix` file with
//!   both outcomes in comments.
//!
//! # Known differences between CppNix 2.8 and modern CppNix, excluded by rule
//! Modern CppNix wins where it differs from 2.8; these classes cannot be
//! checked against 2.8 and are excluded by a rule each
//! ([`rules::ModernDifference`]), never case by case:
//! - **Call depth**: the generator writes no unbounded recursion; an outcome
//!   where either side reports a stack overflow or call-depth limit is not
//!   compared.
//! - **`map`/`genList` forcing their function** (modern CppNix forces it
//!   even when it is not called): their function argument is always a
//!   function literal, never an error.
//! - **Float printing in `toJSON`**: the argument of `toJSON` is generated
//!   from types without floats.
//! - **Integer overflow** (2.8 wraps, modern CppNix throws): nixkit's
//!   overflow error against a CppNix 2.8 value is not a divergence.
//! - **Builtins newer than 2.8**: the generator only calls builtins the
//!   oracle lists in `builtins.attrNames builtins`.
//! - **Function printing** (`<LAMBDA>` in 2.8, `«lambda @ …»` in modern
//!   CppNix): function placeholders are normalised before comparing.
//! - **Top-level auto-call** (2.8 calls a top-level function with formals
//!   under `--eval`; modern CppNix only with `--arg`): every evaluated
//!   expression is a list.
//! - **Error wording**: errors are compared by class only.
//! - **`replaceStrings` forcing its replacements** (2.8 forces all of
//!   them, modern CppNix only those it uses): the replacement list is a
//!   literal list of strings.
//!
//! # Pending fixes
//! Classes of known nixkit divergences are listed in `pending-fix.txt`
//! ([`rules::PendingFix`]); while listed, the generator leaves them out (or,
//! for `attr-force-order`, the comparison tolerates them), so CI is green;
//! remove a line once its fix is merged and the fuzzer checks that class
//! too. Issue 21's classes: byte strings, regular expressions, strict
//! `fromJSON`, equality, `toXML`, printing cycles, lexer whitespace. Found by
//! this fuzzer, not yet being fixed: operand order of arithmetic and `//`,
//! `partition` forcing its elements, `compareVersions` components beyond 32
//! bits (the order in which deep forcing meets failing attributes was an
//! artifact of evaluating in-process: errors are confirmed in a fresh
//! process, [`Campaign::fresh_nixkit`]).
//!
//! # Running
//! `cargo test -p nixkit-difftest --test difffuzz` runs fixed seeds for a
//! bounded time (CI). `cargo run -p nixkit-difftest -- --seconds 300` runs
//! random seeds and writes divergences to `crates/difftest/found/`
//! (`--help` lists the options). Use a debug build: the workspace's release
//! profile aborts on a panic, so a nixkit panic would end the run instead of
//! being reported as a divergence.

pub mod campaign;
pub mod expr;
pub mod gen;
pub mod oracle;
pub mod outcome;
pub mod rules;

pub use campaign::{Campaign, Finding, Report};
pub use gen::{Gen, GenConfig};
pub use oracle::CppNix;
pub use rules::{parse_pending_list, ModernDifference, PendingFix};

/// The pending-fix list shipped with the crate (`pending-fix.txt`).
pub const PENDING_FIX_LIST: &str = include_str!("../pending-fix.txt");
