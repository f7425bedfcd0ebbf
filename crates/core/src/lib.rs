//! The commands of nixkit's binaries as a library, in the manner of
//! `gitoxide-core` under `gix`: each command's options are a typed struct and
//! its run function returns a typed error, so that `nixkit` (and the coming
//! `pkgman`, `osconf` and server binaries) hold argument parsing and wiring only.
//!
//! - [`installable`]: which values a command works on (files, `-E`, `-A`,
//!   `--arg`/`--argstr`, auto-calling) — the one implementation, shared with
//!   `nixkit_eval::cli`.
//! - [`store`]: opening the local store ([`store::open_store`]) from
//!   [`store::StoreOptions`] (`--store`, substituters, keys), without the
//!   evaluator; [`store::ops`] is `nix-store`'s operations.
//! - [`instantiate`], [`build`], [`hash`]: `nix-instantiate`, `nix-build`,
//!   `nix-hash`.
//!
//! Commands write results to the [`Streams`] they are given; a failure to write
//! standard output is reported as its own error variant, so that a binary can end
//! quietly on a closed pipe.

use std::io::{self, Read, Write};

pub mod build;
pub mod fetch;
pub mod hash;
pub mod installable;
pub mod instantiate;
pub mod progress;
pub mod store;

/// The standard streams a command reads and writes.
pub struct Streams<'a> {
    /// Standard input.
    pub stdin: &'a mut dyn Read,
    /// Standard output: results.
    pub stdout: &'a mut dyn Write,
    /// Standard error: diagnostics and progress (failures to write it are ignored).
    pub stderr: &'a mut dyn Write,
}

/// Writes `text` and a newline to `out`.
pub(crate) fn write_line(out: &mut dyn Write, text: impl std::fmt::Display) -> io::Result<()> {
    writeln!(out, "{text}")
}
