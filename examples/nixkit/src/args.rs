//! The command lines of `nixkit` and its multi-call names, as clap definitions
//! (`nix-instantiate`'s is `nixkit_eval::cli::command`), and their reading into
//! `nixkit_core`'s option structs. CppNix's spellings are kept: multi-value flags
//! (`--arg NAME EXPR`, `--option NAME VALUE`), short forms (`-A`, `-E`, `-I`,
//! `-j`, `-q`, `-R`, `-r`) and combined short flags (`-qR`), which clap reads as
//! CppNix does, so no pre-pass is needed.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use nixkit_core::build::{BuildCommandError, BuildOptions};
use nixkit_core::hash::HashCommand;
use nixkit_core::store::ops::{GcAction, Operation, QueryKind, StoreCommand};
use nixkit_core::store::{StoreOptions, StoreOptionsError};
use nixkit_eval::cli::InstallableArgs;
use nixkit_store::{FileIngestionMethod, HashAlgo, HashEncoding};

/// A multi-call command line over the nixkit crates.
#[derive(Parser, Debug)]
#[command(
    name = "nixkit",
    disable_version_flag = true,
    after_help = "The binary also acts as nix-instantiate, nix-build, nix-store or nix-hash \
                  when invoked through a symlink of that name."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: TopCommand,
}

/// `nixkit`'s own commands (`instantiate` is added from `nixkit_eval::cli`).
// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub(crate) enum TopCommand {
    /// Build derivations in a sandbox (like nix-build).
    Build(BuildArgs),
    /// Manipulate the store (like nix-store).
    Store(StoreArgs),
    /// Compute and convert hashes (like nix-hash).
    Hash(HashArgs),
    /// Print a shell completion script for nixkit.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write man pages for nixkit and its commands into DIR.
    Manpages {
        /// The directory (created if missing).
        dir: PathBuf,
    },
}

/// The whole command tree, for `--help`, completions and man pages.
pub(crate) fn cli() -> clap::Command {
    Cli::command().subcommand(
        nixkit_eval::cli::command()
            .name("instantiate")
            .about("Evaluate or parse Nix expressions (like nix-instantiate)"),
    )
}

/// The command `name` (`instantiate`, `build`, `store`, `hash`) alone, as its
/// multi-call name shows it.
pub(crate) fn subcommand(name: &str, shown_as: &str) -> Option<clap::Command> {
    let cmd = match name {
        "instantiate" => nixkit_eval::cli::command(),
        "build" => BuildArgs::augment_args(clap::Command::new("nix-build"))
            .about("Build derivations in a sandbox"),
        "store" => StoreArgs::augment_args(clap::Command::new("nix-store"))
            .about("Manipulate the Nix store"),
        "hash" => HashArgs::augment_args(clap::Command::new("nix-hash"))
            .about("Compute and convert hashes"),
        _ => return None,
    };
    Some(
        cmd.name(shown_as.to_owned())
            .args_override_self(true)
            .disable_version_flag(true),
    )
}

/// `nix-build`'s flags.
#[derive(Args, Debug)]
pub(crate) struct BuildArgs {
    #[command(flatten)]
    installables: InstallableArgs,
    /// The name of the result symlink (default: result).
    #[arg(short = 'o', long = "out-link", value_name = "LINK")]
    out_link: Option<String>,
    /// Make no result symlink.
    #[arg(long)]
    no_out_link: bool,
    /// Builds to run at once: a number or auto.
    #[arg(short = 'j', long = "max-jobs", value_name = "N")]
    max_jobs: Option<String>,
    /// CPU cores each build may use.
    #[arg(long, value_name = "N")]
    cores: Option<String>,
    /// Keep building independent derivations after a failure.
    #[arg(short = 'k', long)]
    keep_going: bool,
    /// Rebuild and check that the outputs are reproducible.
    #[arg(long)]
    check: bool,
    /// Keep the build directory of failed builds.
    #[arg(short = 'K', long)]
    keep_failed: bool,
    /// Kill a build that prints nothing for S seconds.
    #[arg(long, value_name = "S")]
    max_silent_time: Option<String>,
    /// Kill a build that runs longer than S seconds.
    #[arg(long, value_name = "S")]
    timeout: Option<String>,
    /// Kill a build that logs more than BYTES.
    #[arg(long, value_name = "BYTES")]
    max_log_size: Option<String>,
    /// Set the setting NAME to VALUE.
    #[arg(long, num_args = 2, value_names = ["NAME", "VALUE"], allow_hyphen_values = true)]
    option: Vec<String>,
    /// The store to build in.
    #[arg(long, value_name = "SPEC")]
    store: Option<String>,
    /// Binary caches to substitute from (space-separated URLs).
    #[arg(long, value_name = "URLS")]
    substituters: Option<String>,
    /// Keys trusted to sign substitutes (space-separated).
    #[arg(long, value_name = "KEYS")]
    trusted_public_keys: Option<String>,
    /// Remote machines to build on, in CppNix's machines format (`-j0`: only there).
    #[arg(long, value_name = "SPEC")]
    builders: Option<String>,
    /// Do not show builders' output.
    #[arg(short = 'Q', long = "no-build-output")]
    quiet: bool,
    /// Show the evaluation trace of errors.
    #[arg(long)]
    show_trace: bool,
}

/// A flag's value as a setting's (a `nix-build` flag that sets a setting).
fn setting(o: &mut BuildOptions, name: &str, value: &str) -> Result<(), BuildCommandError> {
    o.set_option(name, value).map(|_| ())
}

impl BuildArgs {
    /// The options these flags give; `warn` receives unknown `--option` names.
    pub(crate) fn into_options(
        self,
        m: &ArgMatches,
        warn: &mut dyn FnMut(&str),
    ) -> Result<BuildOptions, BuildCommandError> {
        let mut o = BuildOptions {
            installables: self.installables.installables(m),
            include: self.installables.include,
            out_link: self.out_link,
            no_out_link: self.no_out_link,
            quiet: self.quiet,
            show_trace: self.show_trace,
            ..BuildOptions::default()
        };
        o.realise.keep_going = self.keep_going;
        o.realise.check = self.check;
        if let Some(jobs) = self.max_jobs {
            o.realise.jobs = if jobs == "auto" {
                std::thread::available_parallelism().map_or(1, usize::from)
            } else {
                jobs.parse().map_err(|_| {
                    BuildCommandError::Setting(format!("invalid number of jobs '{jobs}'"))
                })?
            };
        }
        if self.keep_failed {
            setting(&mut o, "keep-failed", "true")?;
        }
        for (name, value) in [
            ("cores", self.cores),
            ("max-silent-time", self.max_silent_time),
            ("timeout", self.timeout),
            ("max-log-size", self.max_log_size),
            ("store", self.store),
            ("substituters", self.substituters),
            ("trusted-public-keys", self.trusted_public_keys),
            ("builders", self.builders),
        ] {
            if let Some(value) = value {
                setting(&mut o, name, &value)?;
            }
        }
        for pair in self.option.chunks(2) {
            if let [name, value] = pair {
                if !o.set_option(name, value)? {
                    warn(&format!("warning: unknown setting '{name}'"));
                }
            }
        }
        Ok(o)
    }
}

/// `nix-store`'s flags: one operation, its options, and operands.
#[derive(Args, Debug)]
pub(crate) struct StoreArgs {
    /// Add files to the store (recursive, sha256).
    #[arg(long, group = "operation")]
    add: bool,
    /// Add files to the store with a given hash algorithm: ALGO FILE...
    #[arg(long, group = "operation")]
    add_fixed: bool,
    /// Write the NAR serialisation of PATH to standard output.
    #[arg(long, group = "operation")]
    dump: bool,
    /// Unpack a NAR from standard input into PATH.
    #[arg(long, group = "operation")]
    restore: bool,
    /// Query paths (see --references, --requisites, ...).
    #[arg(short = 'q', long, group = "operation")]
    query: bool,
    /// Check the store's database (and with --check-contents, the contents).
    #[arg(long, group = "operation")]
    verify: bool,
    /// Check that the paths' contents match their recorded NAR hashes.
    #[arg(long, group = "operation")]
    verify_path: bool,
    /// Collect garbage (or print roots, live or dead paths).
    #[arg(long, group = "operation")]
    gc: bool,
    /// Delete paths that are not alive.
    #[arg(long, group = "operation")]
    delete: bool,
    /// Make paths valid (by substitution).
    #[arg(short = 'r', long, group = "operation")]
    realise: bool,
    /// Write paths in the export format to standard output.
    #[arg(long, group = "operation")]
    export: bool,
    /// Import paths in the export format from standard input.
    #[arg(long, group = "operation")]
    import: bool,
    /// Generate a signing key pair: NAME SECRET-FILE PUBLIC-FILE.
    #[arg(long, group = "operation")]
    generate_binary_cache_key: bool,
    /// Copy the closures of paths into the file:// binary cache URL, or upload them to an
    /// http(s):// one (`nixkit serve --upload-token`; the token in NIXKIT_UPLOAD_TOKEN).
    #[arg(long, group = "operation", value_name = "URL")]
    copy_to: Option<String>,
    /// Query: the paths' references.
    #[arg(long, group = "query_kind")]
    references: bool,
    /// Query: the paths' referrers.
    #[arg(long, group = "query_kind")]
    referrers: bool,
    /// Query: the closure of the paths.
    #[arg(short = 'R', long, group = "query_kind")]
    requisites: bool,
    /// Query: the derivers of the paths.
    #[arg(short = 'd', long, group = "query_kind")]
    deriver: bool,
    /// Query: the NAR hashes of the paths.
    #[arg(long, group = "query_kind")]
    hash: bool,
    /// Query: the NAR sizes of the paths.
    #[arg(long, group = "query_kind")]
    size: bool,
    /// Query: the outputs of derivations (the default).
    #[arg(long, group = "query_kind")]
    outputs: bool,
    /// Query: the garbage collector roots that keep the paths alive.
    #[arg(long, group = "query_kind")]
    roots: bool,
    /// --add-fixed: hash the NAR serialisation.
    #[arg(long)]
    recursive: bool,
    /// --verify: check the contents' hashes.
    #[arg(long)]
    check_contents: bool,
    /// --gc: print the roots.
    #[arg(long, group = "gc_action")]
    print_roots: bool,
    /// --gc: print the live paths.
    #[arg(long, group = "gc_action")]
    print_live: bool,
    /// --gc: print the dead paths.
    #[arg(long, group = "gc_action")]
    print_dead: bool,
    /// --gc: stop after freeing N bytes.
    #[arg(long, value_name = "N")]
    max_freed: Option<u64>,
    /// The store to open.
    #[arg(long, value_name = "SPEC")]
    store: Option<String>,
    /// --copy-to: sign with the secret key in FILE.
    #[arg(long, value_name = "FILE")]
    sign_key: Option<PathBuf>,
    /// --copy-to: xz (default), zstd or none.
    #[arg(long, value_name = "METHOD")]
    compression: Option<String>,
    /// Set the setting NAME to VALUE.
    #[arg(long, num_args = 2, value_names = ["NAME", "VALUE"], allow_hyphen_values = true)]
    option: Vec<String>,
    /// Paths, files or other operands (any bytes).
    #[arg(value_name = "ARGS")]
    operands: Vec<OsString>,
}

impl StoreArgs {
    /// The command and store options these flags give, or `None` without an
    /// operation; `warn` receives unknown `--option` names; a bad value of a setting is
    /// an error.
    pub(crate) fn into_command(
        self,
        warn: &mut dyn FnMut(&str),
    ) -> Result<Option<(StoreCommand, StoreOptions)>, StoreOptionsError> {
        let operations = [
            (self.add, Operation::Add),
            (self.add_fixed, Operation::AddFixed),
            (self.dump, Operation::Dump),
            (self.restore, Operation::Restore),
            (self.query, Operation::Query),
            (self.verify, Operation::Verify),
            (self.verify_path, Operation::VerifyPath),
            (self.gc, Operation::Gc),
            (self.delete, Operation::Delete),
            (self.realise, Operation::Realise),
            (self.export, Operation::Export),
            (self.import, Operation::Import),
            (
                self.generate_binary_cache_key,
                Operation::GenerateBinaryCacheKey,
            ),
            (self.copy_to.is_some(), Operation::CopyTo),
        ];
        let Some(&(_, operation)) = operations.iter().find(|(on, _)| *on) else {
            return Ok(None);
        };
        let query = [
            (self.references, QueryKind::References),
            (self.referrers, QueryKind::Referrers),
            (self.requisites, QueryKind::Requisites),
            (self.deriver, QueryKind::Deriver),
            (self.hash, QueryKind::Hash),
            (self.size, QueryKind::Size),
            (self.outputs, QueryKind::Outputs),
            (self.roots, QueryKind::Roots),
        ]
        .into_iter()
        .find_map(|(on, kind)| on.then_some(kind))
        .unwrap_or_default();
        let gc = [
            (self.print_roots, GcAction::PrintRoots),
            (self.print_live, GcAction::PrintLive),
            (self.print_dead, GcAction::PrintDead),
        ]
        .into_iter()
        .find_map(|(on, action)| on.then_some(action))
        .unwrap_or_default();
        let mut options = StoreOptions {
            store: self.store,
            ..StoreOptions::default()
        };
        for pair in self.option.chunks(2) {
            if let [name, value] = pair {
                if !options.set_option(name, value)? {
                    warn(&format!("warning: unknown setting '{name}'"));
                }
            }
        }
        let cmd = StoreCommand {
            operation,
            query,
            recursive: self.recursive,
            check_contents: self.check_contents,
            gc,
            max_freed: self.max_freed,
            copy_to: self.copy_to,
            sign_key: self.sign_key,
            compression: self.compression,
            operands: self.operands,
        };
        Ok(Some((cmd, options)))
    }
}

/// `nix-hash`'s flags.
#[derive(Args, Debug)]
pub(crate) struct HashArgs {
    /// Hash the file's contents, not its NAR serialisation.
    #[arg(long)]
    flat: bool,
    /// Print the hash in base 16 (the default).
    #[arg(long, overrides_with_all = ["base16", "base32", "base64", "sri"])]
    base16: bool,
    /// Print the hash in Nix's base 32.
    #[arg(long, overrides_with_all = ["base16", "base32", "base64", "sri"])]
    base32: bool,
    /// Print the hash in base 64.
    #[arg(long, overrides_with_all = ["base16", "base32", "base64", "sri"])]
    base64: bool,
    /// Print the hash as an SRI hash (ALGO-BASE64).
    #[arg(long, overrides_with_all = ["base16", "base32", "base64", "sri"])]
    sri: bool,
    /// Truncate the hash to 160 bits.
    #[arg(long)]
    truncate: bool,
    /// Convert the operands (hashes) to base 16.
    #[arg(long, overrides_with_all = ["to_base16", "to_base32", "to_base64", "to_sri"])]
    to_base16: bool,
    /// Convert the operands (hashes) to Nix's base 32.
    #[arg(long, overrides_with_all = ["to_base16", "to_base32", "to_base64", "to_sri"])]
    to_base32: bool,
    /// Convert the operands (hashes) to base 64.
    #[arg(long, overrides_with_all = ["to_base16", "to_base32", "to_base64", "to_sri"])]
    to_base64: bool,
    /// Convert the operands (hashes) to SRI hashes.
    #[arg(long, overrides_with_all = ["to_base16", "to_base32", "to_base64", "to_sri"])]
    to_sri: bool,
    /// The hash algorithm: md5 (the default), sha1, sha256 or sha512.
    #[arg(long = "type", value_name = "ALGO", value_parser = parse_algo)]
    algo: Option<HashAlgo>,
    /// Paths to hash, or hashes to convert (any bytes).
    #[arg(value_name = "PATHS", action = ArgAction::Append)]
    operands: Vec<OsString>,
}

fn parse_algo(s: &str) -> Result<HashAlgo, String> {
    s.parse::<HashAlgo>().map_err(|e| e.to_string())
}

impl HashArgs {
    /// The command these flags give.
    pub(crate) fn into_command(self) -> HashCommand {
        let pick = |flags: [(bool, HashEncoding); 4]| {
            flags
                .into_iter()
                .find_map(|(on, encoding)| on.then_some(encoding))
        };
        HashCommand {
            algo: self.algo.unwrap_or(HashAlgo::Md5),
            method: if self.flat {
                FileIngestionMethod::Flat
            } else {
                FileIngestionMethod::Recursive
            },
            encoding: pick([
                (self.base16, HashEncoding::Base16),
                (self.base32, HashEncoding::Nix32),
                (self.base64, HashEncoding::Base64),
                (self.sri, HashEncoding::Sri),
            ])
            .unwrap_or(HashEncoding::Base16),
            truncate: self.truncate,
            convert_to: pick([
                (self.to_base16, HashEncoding::Base16),
                (self.to_base32, HashEncoding::Nix32),
                (self.to_base64, HashEncoding::Base64),
                (self.to_sri, HashEncoding::Sri),
            ]),
            operands: self.operands,
        }
    }
}

/// Reads a derive struct out of matches (after [`subcommand`] parsed them).
pub(crate) fn read<T: FromArgMatches>(m: &ArgMatches) -> Result<T, clap::Error> {
    T::from_arg_matches(m)
}
