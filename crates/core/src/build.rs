//! `nix-build`: evaluate the installables with the store (local, or a daemon:
//! [`StoreAccess`]) as the evaluator's store (so `.drv` files are written),
//! realise the derivations (locally with [`nixkit_sandbox::realise`], or by the
//! daemon), create `result` symlinks registered as GC roots, and print the
//! output paths.

use std::io::{self, Write};
use std::path::PathBuf;

use nixkit_eval::Evaluator;
use nixkit_sandbox::{RealiseOptions, SandboxError};
use nixkit_store::ParseStorePathError;

use crate::installable::{InputContext, Installables};
use crate::progress::Progress;
use crate::store::access::{open_access, AccessError, OpenAccessError, StoreAccess};
use crate::store::{StoreOptions, StoreOptionsError};

/// One `nix-build` invocation.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// What to build (default `./default.nix`).
    pub installables: Installables,
    /// `-I` search path entries.
    pub include: Vec<String>,
    /// `-o`/`--out-link` (default `result`).
    pub out_link: Option<String>,
    /// `--no-out-link`.
    pub no_out_link: bool,
    /// The store, substituters and keys.
    pub store: StoreOptions,
    /// `-Q`: builders' output is not shown.
    pub quiet: bool,
    /// `--show-trace`.
    pub show_trace: bool,
    /// How to build (`-j`, `--keep-going`, `--check`, build settings, `builders`); the
    /// substituters come from [`BuildOptions::store`].
    pub realise: RealiseOptions,
}

impl BuildOptions {
    /// Applies the setting `name` (`--option NAME VALUE`, or a flag such as
    /// `--timeout S`): a store setting, else a build setting. Returns false for
    /// a setting neither knows.
    pub fn set_option(&mut self, name: &str, value: &str) -> Result<bool, BuildCommandError> {
        if self
            .store
            .set_option(name, value)
            .map_err(|e| BuildCommandError::Setting(e.to_string()))?
        {
            return Ok(true);
        }
        if name == "builders" {
            self.realise.builders =
                nixkit_sandbox::remote::parse_machines(value, &self.realise.settings.system)
                    .map_err(|e| BuildCommandError::Setting(e.to_string()))?;
            return Ok(true);
        }
        self.realise
            .settings
            .set_option(name, value)
            .map_err(BuildCommandError::Setting)
    }
}

/// Why `nix-build` failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildCommandError {
    /// The working directory is not known.
    #[error("cannot get the current directory: {0}")]
    Cwd(#[source] io::Error),
    /// The store did not open.
    #[error(transparent)]
    Open(#[from] OpenAccessError),
    /// A setting's value is not valid.
    #[error("{0}")]
    Setting(String),
    /// Evaluation failed (the rendered error, `error: …`).
    #[error("{0}")]
    Eval(String),
    /// The store's options are not usable.
    #[error(transparent)]
    Options(#[from] StoreOptionsError),
    /// A derivation path from the evaluator is not a store path.
    #[error(transparent)]
    DrvPath(#[from] ParseStorePathError),
    /// The interrupt handler could not be installed.
    #[error(transparent)]
    Interrupt(#[from] SandboxError),
    /// Building failed, or a result link could not be made.
    #[error(transparent)]
    Store(#[from] AccessError),
    /// Standard output failed (after every result link was made).
    #[error("writing to standard output: {0}")]
    Stdout(#[source] io::Error),
}

/// Builds what `o` names, writing the output paths to `stdout` and progress to
/// standard error.
pub fn run(o: &BuildOptions, stdout: &mut dyn Write) -> Result<(), BuildCommandError> {
    let cwd = std::env::current_dir().map_err(BuildCommandError::Cwd)?;
    let cwd_s = cwd.to_string_lossy().into_owned();
    let store = open_access(&o.store)?;
    let search: Vec<(String, String)> = o
        .include
        .iter()
        .map(|e| match e.split_once('=') {
            Some((prefix, path)) => (
                prefix.to_owned(),
                crate::installable::absolute_path(&cwd_s, path),
            ),
            None => (String::new(), crate::installable::absolute_path(&cwd_s, e)),
        })
        .collect();
    // One evaluation per process: no cycle collection.
    let mut ev = Evaluator::builder()
        .collect_cycles(false)
        .store(store.eval_store())
        .search_path(search)
        .home(std::env::var("HOME").ok())
        .show_trace(o.show_trace)
        .fetcher(crate::fetch::network_fetcher())
        .build();
    let ctx = InputContext {
        cwd: &cwd_s,
        stdin: None,
        default_input: "./default.nix",
    };
    let targets = crate::installable::derivations(&o.installables, &mut ev, &ctx)
        .map_err(|e| BuildCommandError::Eval(e.render(o.show_trace)))?;
    drop(ev);
    build_targets(o, &*store, &cwd, &targets, stdout)
}

/// Realises the evaluated `targets` (`(drv path, output)`), makes the result links and
/// prints the outputs.
fn build_targets(
    o: &BuildOptions,
    store: &dyn StoreAccess,
    cwd: &std::path::Path,
    targets: &[(String, String)],
    stdout: &mut dyn Write,
) -> Result<(), BuildCommandError> {
    let store_dir = store.store_dir().clone();
    let mut realise_opts = o.realise.clone();
    o.store
        .configure_substitution(&store_dir, &mut realise_opts)?;
    let mut drvs = Vec::new();
    for (d, _) in targets {
        let p = store_dir.parse_path(d)?;
        if !drvs.contains(&p) {
            drvs.push(p);
        }
    }
    nixkit_sandbox::install_interrupt_handler()?;
    let progress = Progress::new(o.quiet);
    let result = store.build(&drvs, &realise_opts, &|e| progress.event(&store_dir, e));
    progress.finish();
    let realised = result?;
    let link_base = o.out_link.clone().unwrap_or_else(|| "result".into());
    let mut n = 0;
    // A failing standard output must not stop the later result links from being made:
    // the first error is kept and reported at the end.
    let mut print_error = None;
    for (d, output) in targets {
        let drv = store_dir.parse_path(d)?;
        let Some(path) = realised.get(&drv).and_then(|m| m.get(output)) else {
            continue;
        };
        if !o.no_out_link && !realise_opts.check {
            let mut link = link_base.clone();
            if n > 0 {
                link = format!("{link}-{}", n + 1);
            }
            if output != "out" {
                link = format!("{link}-{output}");
            }
            n += 1;
            store.add_perm_root(path, &cwd.join(PathBuf::from(link)))?;
        }
        if print_error.is_none() {
            print_error = crate::write_line(stdout, store_dir.print_path(path))
                .and_then(|()| stdout.flush())
                .err();
        }
    }
    if realise_opts.check {
        let _ = writeln!(
            io::stderr(),
            "checked {} derivation(s): outputs are reproducible",
            drvs.len()
        );
    }
    print_error.map_or(Ok(()), |e| Err(BuildCommandError::Stdout(e)))
}
