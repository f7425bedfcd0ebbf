//! A lazy evaluator for the Nix language, compatible with CppNix 2.3x.
//!
//! ```
//! use nixkit_eval::{Evaluator, PrintStyle};
//!
//! let mut ev = Evaluator::builder().pure(true).build();
//! let v = ev.eval_str("let f = { a, b ? 2 }: a * b; in { x = f { a = 21; }; y = [ 1 \"s\" ]; }", "/").unwrap();
//! assert_eq!(ev.print(&v, true).unwrap(), "{ x = 42; y = [ 1 \"s\" ]; }");
//!
//! // Values are lazy; inspect them on demand.
//! let x = ev.get_attr(&v, "x").unwrap().unwrap();
//! assert_eq!(ev.print(&x, false).unwrap(), "42");
//! assert_eq!(nixkit_eval::print_value(&x, PrintStyle::Ambiguous), "42");
//! ```
//!
//! # Embedding
//!
//! Extra builtins (Rust closures or Nix source), a sandboxed [`EvalIo`],
//! limits that end in typed errors ([`ErrorKind::StackOverflow`],
//! [`ErrorKind::StepLimit`], [`ErrorKind::Cancelled`]), and [`serde`] to
//! read results into Rust types. See also `examples/config-lang`.
//!
//! ```
//! use std::sync::{atomic::AtomicBool, Arc};
//! use nixkit_eval::{ErrorKind, Evaluator, Value};
//!
//! let cancel = Arc::new(AtomicBool::new(false)); // set from any thread
//! let mut ev = Evaluator::builder()
//!     .pure(true)
//!     .max_call_depth(1000)
//!     .max_steps(100_000)
//!     .cancel_flag(cancel)
//!     .builtin("triple", 1, |s, args| match s.force(&args[0])? {
//!         Value::Int(i) => Ok(Value::Int(i * 3)),
//!         _ => Err(nixkit_eval::EvalError::eval("triple: not an integer")),
//!     })
//!     .builtin_nix("sixfold", "x: triple (x * 2)")
//!     .build();
//! let v = ev.eval_str("{ port = sixfold 7; }", "/").unwrap();
//! #[derive(serde::Deserialize)]
//! struct Cfg { port: u16 }
//! let cfg: Cfg = nixkit_eval::serde::from_value(ev.state(), &v).unwrap();
//! assert_eq!(cfg.port, 42);
//!
//! let err = ev.eval_str("let f = x: f x; in f 1", "/").unwrap_err();
//! assert!(matches!(err.kind(), ErrorKind::StackOverflow | ErrorKind::StepLimit));
//! ```
//!
//! # Architecture
//! - [`nixkit_syntax`] parses and resolves variables; `compile` turns the AST
//!   into an `Arc`-linked form that thunks can point into.
//! - [`Value`] is 16 bytes; sets are slices sorted by symbol index, lists
//!   are `List`, both behind one thin shared pointer (see `value`).
//! - A thunk is one `nixkit_once::Lazy` cell (its pending code, then its
//!   value or error, under one atomic state), so that an evaluator is
//!   `Send`; the cell's `unsafe` lives in `nixkit-once` (see `thunk`).
//! - IO and the store go through [`EvalIo`] and [`EvalStore`].
//! - Errors are [`EvalError`]s with CppNix-style traces.
//!
//! # Performance and memory
//! The hot paths avoid allocation and atomic operations where the result
//! cannot be told apart (`crates/eval/PERFORMANCE.md` has the profiles and
//! measurements): no thunk for arguments whose value is known (CppNix's
//! `maybeThunk`), and none for integer arithmetic passed to a function that
//! forces that argument first (`strict`); `a - b`, `a < b`, … on integers
//! computed inline; argument arrays on the stack; one-slot scopes in one
//! allocation; evaluated thunks unwrapped when copied; the stack checked only
//! every few levels of recursion; strings appended into one buffer and never
//! copied to be read. Memory is reference counted: a value is freed as soon
//! as nothing refers to it; reference cycles (fixpoints, `rec` sets naming
//! themselves) are collected between top-level calls, in the middle of long
//! evaluations and when the evaluator is dropped, while no other evaluator
//! of the process is evaluating ([`Evaluator::collect_cycles`],
//! [`Evaluator::cycle_stats`], `cycles.rs`). [`Evaluator::stats`] counts calls, thunks, scopes, sets and
//! lookups (`NIXKIT_SHOW_STATS=1` on the command line).
#![deny(unsafe_code)]

/// The symbol of a constant attribute name (`"__functor"`, `"outPath"`, …),
/// interned once per process: looking it up again is one atomic load, not
/// a trip through the symbol table's lock.
macro_rules! sym {
    ($text:literal) => {{
        static SYMBOL: std::sync::OnceLock<nixkit_syntax::Symbol> = std::sync::OnceLock::new();
        *SYMBOL.get_or_init(|| nixkit_syntax::Symbol::intern($text))
    }};
}

mod activity;
mod assert_eq;
mod attr_set;
mod attrs_build;
mod builtins;
mod call;
pub mod cli;
mod compile;
mod corepkgs;
mod cycles;
mod deep_drop;
mod derivation;
mod drv_info;
mod error;
mod eval;
mod extra;
mod force;
mod import;
pub mod installable;
mod io;
#[cfg(feature = "local-store")]
pub mod local_store;
mod name_strings;
mod ops;
mod parse_cache;
mod print;
mod select;
pub mod serde;
mod shared_slice;
mod source;
mod stats;
mod steps;
mod store_path;
mod strict;
mod thunk;
mod value;
mod view;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub use cycles::collections_in_process;
pub use drv_info::DrvInfo;
pub use error::{ErrorKind, EvalError, EvalResult, TraceFrame};
pub use eval::{EvalState, MessageSink};
pub use extra::{BuiltinFn, MAX_BUILTIN_ARITY};
pub use io::{
    nix_text, os_path, EnvOverlay, EvalIo, EvalPath, EvalStore, EvalStoreError, FileIngestion,
    FileType, PathFilter, ReadOnlyStore, StdIo,
};
pub use parse_cache::ParseCache;
pub use print::{format_float, print_value, PrintStyle};
pub use source::{Location, Origin, Pos};
pub use stats::Stats;
pub use store_path::StorePathError;
pub use value::{
    Attr, Attrs, Closure, Context, List, NixPath, NixString, PrimOp, PrimOpFn, SharedSlice,
    StringContext, Value,
};
pub use view::ValueView;

use eval::Settings;
pub use nixkit_fetch::Fetcher;

/// Configures an [`Evaluator`].
pub struct EvaluatorBuilder {
    settings: Settings,
    io: Arc<dyn EvalIo>,
    store: Option<Arc<dyn EvalStore>>,
    fetcher: Arc<dyn Fetcher>,
    messages: MessageSink,
    cancel: Option<Arc<AtomicBool>>,
    extra: Vec<extra::ExtraBuiltin>,
    max_steps: Option<u64>,
    parse_cache: Option<Arc<ParseCache>>,
}

impl EvaluatorBuilder {
    /// Pure evaluation: no `currentSystem`/`currentTime`, `getEnv` returns "".
    pub fn pure(mut self, pure: bool) -> Self {
        self.settings.pure = pure;
        self
    }

    /// Adds search path entries (`prefix=path`, prefix empty for plain entries),
    /// in priority order.
    pub fn search_path<I: IntoIterator<Item = (String, String)>>(mut self, entries: I) -> Self {
        self.settings.search_path.extend(entries);
        self
    }

    /// The file system and environment.
    pub fn io(mut self, io: Arc<dyn EvalIo>) -> Self {
        self.io = io;
        self
    }

    /// The store (defaults to a [`ReadOnlyStore`] at the store directory).
    pub fn store(mut self, store: Arc<dyn EvalStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The store directory (default `/nix/store`).
    pub fn store_dir(mut self, dir: impl Into<String>) -> Self {
        self.settings.store_dir = dir.into();
        self
    }

    /// The home directory for `~/` paths.
    pub fn home(mut self, home: Option<String>) -> Self {
        self.settings.home = home;
        self
    }

    /// Maximum depth of nested function calls (default 10000).
    pub fn max_call_depth(mut self, depth: u32) -> Self {
        self.settings.max_call_depth = depth;
        self
    }

    /// The value of `builtins.currentSystem`.
    pub fn current_system(mut self, system: impl Into<String>) -> Self {
        self.settings.current_system = system.into();
        self
    }

    /// Where `trace:` and `warning:` lines go (default: standard error).
    pub fn messages(mut self, sink: MessageSink) -> Self {
        self.messages = sink;
        self
    }

    /// A flag polled during evaluation; setting it aborts with [`ErrorKind::Cancelled`].
    pub fn cancel_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// Limits evaluation to `steps` steps (function calls, builtin calls and
    /// thunks forced); past it evaluation fails with
    /// [`ErrorKind::StepLimit`]. Unlimited by default. See also
    /// [`Evaluator::set_step_budget`].
    pub fn max_steps(mut self, steps: u64) -> Self {
        self.max_steps = Some(steps);
        self
    }

    /// Adds a builtin implemented in Rust, bound as `builtins.<name>` and as
    /// a global `<name>` (replacing a builtin of that name). `arity` is
    /// clamped to `1..=`[`MAX_BUILTIN_ARITY`]; the closure gets that many
    /// unforced arguments. Errors it returns get the usual
    /// `while calling the '<name>' builtin` frame.
    pub fn builtin<F>(mut self, name: &str, arity: u8, f: F) -> Self
    where
        F: Fn(&mut EvalState, &[Value]) -> EvalResult<Value> + Send + Sync + 'static,
    {
        let arity = arity.clamp(1, MAX_BUILTIN_ARITY);
        self.extra.push(extra::ExtraBuiltin::Rust {
            name: name.into(),
            arity,
            func: Arc::new(f),
        });
        self
    }

    /// Adds a builtin written in Nix: `source` is evaluated (in the global
    /// scope, seeing every builtin) the first time the builtin is used, and
    /// bound as `builtins.<name>` and as a global `<name>`.
    pub fn builtin_nix(mut self, name: &str, source: &str) -> Self {
        self.extra.push(extra::ExtraBuiltin::Nix {
            name: name.into(),
            source: source.into(),
        });
        self
    }

    /// Shares parsed files with other evaluators (see [`ParseCache`]).
    pub fn parse_cache(mut self, cache: Arc<ParseCache>) -> Self {
        self.parse_cache = Some(cache);
        self
    }

    /// Make `builtins.warn` fail (`--abort-on-warn`).
    pub fn abort_on_warn(mut self, yes: bool) -> Self {
        self.settings.abort_on_warn = yes;
        self
    }

    /// `--trace-verbose`: make `builtins.traceVerbose` print its message
    /// (off by default, when it only returns its second argument).
    pub fn trace_verbose(mut self, yes: bool) -> Self {
        self.settings.trace_verbose = yes;
        self
    }

    /// Parse TOML timestamps (`parse-toml-timestamps` experimental feature).
    pub fn toml_timestamps(mut self, yes: bool) -> Self {
        self.settings.toml_timestamps = yes;
        self
    }

    /// Record the detailed error trace (`--show-trace`): frames for every
    /// function call on the way to the error. Costs nothing until an error
    /// propagates.
    pub fn show_trace(mut self, yes: bool) -> Self {
        self.settings.show_trace = yes;
        self
    }

    /// Where `fetchurl`, `fetchTarball`, `fetchGit` and `fetchTree` get their sources
    /// (default: [`nixkit_fetch::LocalFetcher`], `file://` URLs and local paths only).
    /// An embedder that confines file access with its own [`EvalIo`] should confine
    /// fetching too, e.g. with [`nixkit_fetch::NoFetcher`].
    pub fn fetcher(mut self, fetcher: Arc<dyn Fetcher>) -> Self {
        self.fetcher = fetcher;
        self
    }

    /// Sets the path/URL literal lints: index 0 absolute paths, 1 short
    /// paths, 2 URLs; `Some(true)` makes them errors, `Some(false)` warnings.
    pub fn lints(mut self, lints: [Option<bool>; 3]) -> Self {
        self.settings.lints = lints;
        self
    }

    /// Whether to collect reference cycles (fixpoints, `rec` sets, `config`
    /// referring to itself) after each top-level call and in the middle of
    /// long evaluations, when enough new candidates piled up, and when the
    /// evaluator is dropped (default: yes).
    /// A process that evaluates once and exits can turn it off to skip the
    /// work at the end; nothing is then registered for the collector either
    /// (so [`Evaluator::collect_cycles`] finds nothing). The collector runs
    /// only while no other evaluator of the process is evaluating (see
    /// `crates/eval/src/cycles.rs`).
    pub fn collect_cycles(mut self, yes: bool) -> Self {
        self.settings.collect_cycles = yes;
        self
    }

    /// Runs the cycle collector far more often than it pays to: in the
    /// middle of evaluations every `steps` steps (calls and thunks forced)
    /// when a candidate was registered since the last run, and after every
    /// top-level call. For testing that a program's evaluations give the
    /// same results under collection (e.g. a language test suite), at a
    /// large cost in time. `Some` implies [`EvaluatorBuilder::collect_cycles`].
    pub fn collect_cycles_every(mut self, steps: Option<u64>) -> Self {
        self.settings.collect_cycles_every = steps.map(|s| s.max(1));
        self.settings.collect_cycles |= steps.is_some();
        self
    }

    /// Builds the evaluator.
    pub fn build(self) -> Evaluator {
        let cycle_registry = cycles::CycleRegistry::new(
            self.settings.collect_cycles,
            self.settings.collect_cycles_every.is_some(),
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let globals = Arc::new(builtins::Globals::new(&self.settings, now, &self.extra));
        let globals_fingerprint = globals.fingerprint();
        let parse_globals = Arc::new(globals.syntax_globals());
        let store = self
            .store
            .unwrap_or_else(|| ReadOnlyStore::new(self.settings.store_dir.clone()));
        Evaluator {
            state: EvalState {
                settings: self.settings,
                io: self.io,
                store,
                fetcher: self.fetcher,
                globals,
                call_depth: 0,
                cancel: self.cancel,
                step_countdown: 0,
                steps_left: self.max_steps,
                parse_cache: self.parse_cache,
                globals_fingerprint,
                import_cache: HashMap::new(),
                regex_cache: HashMap::new(),
                messages: self.messages,
                parse_globals,
                store_paths: HashMap::new(),
                derivation_fn: None,
                derivations: Default::default(),
                xml_seen: HashSet::new(),
                name_strings: Default::default(),
                stats: Default::default(),
                spare_envs: Vec::with_capacity(crate::eval::SPARE_SCOPES),
                spare_env2s: Vec::with_capacity(crate::eval::SPARE_SCOPES),
                cycles: cycle_registry,
                activity: Default::default(),
            },
        }
    }
}

/// What an evaluator's cycle collector did ([`Evaluator::cycle_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleStats {
    /// Collections that ran to the end.
    pub collections: u64,
    /// Those of them that ran in the middle of an evaluation.
    pub during_evaluation: u64,
    /// Thunks and scopes they emptied (which freed them and what only they held).
    pub emptied: u64,
    /// Collections given up: a reference count changed under them (another
    /// thread cloned or dropped a value).
    pub abandoned: u64,
}

/// An evaluator: global scope, caches and settings. It is `Send`, so a
/// server can keep a pool of them on worker threads.
pub struct Evaluator {
    state: EvalState,
}

/// Dropping an evaluator collects the reference cycles among its values
/// first (unless turned off), so their memory comes back; values the
/// embedder still holds stay intact.
impl Drop for Evaluator {
    fn drop(&mut self) {
        // A borrow from `state()` has ended: the evaluator is idle.
        self.state.activity.end();
        if self.state.settings.collect_cycles {
            // The evaluator's own caches go first: they are references from
            // outside the heap that would keep what they hold alive.
            self.state.import_cache.clear();
            self.state.derivation_fn = None;
            self.state.collect_cycles();
            if let Some(globals) = Arc::get_mut(&mut self.state.globals) {
                drop(cycles::break_builtins_cycle(globals));
            }
        }
    }
}

fn stderr_sink() -> MessageSink {
    Arc::new(|line: &str| eprintln!("{line}"))
}

impl Evaluator {
    /// A builder with CppNix's defaults (impure, max-call-depth 10000).
    pub fn builder() -> EvaluatorBuilder {
        EvaluatorBuilder {
            settings: Settings {
                pure: false,
                max_call_depth: 10_000,
                search_path: Vec::new(),
                home: None,
                store_dir: "/nix/store".to_string(),
                current_system: "x86_64-linux".to_string(),
                abort_on_warn: false,
                trace_verbose: false,
                toml_timestamps: false,
                show_trace: false,
                collect_cycles: true,
                collect_cycles_every: None,
                lints: [None; 3],
            },
            io: Arc::new(StdIo),
            store: None,
            fetcher: Arc::new(nixkit_fetch::LocalFetcher),
            messages: stderr_sink(),
            cancel: None,
            extra: Vec::new(),
            max_steps: None,
            parse_cache: None,
        }
    }

    /// Runs one top-level evaluation on the evaluator's stack, then lets the
    /// cycle collector run if it is due (no evaluation is in progress here).
    fn top<T>(&mut self, f: impl FnOnce(&mut EvalState) -> T) -> T {
        let result = self.busy(|state| eval::with_stack(|| f(state)));
        if self.state.settings.collect_cycles && self.state.cycles.due() {
            self.state.collect_cycles();
        }
        result
    }

    /// Runs `f`, counted as evaluating (see `crates/eval/src/activity.rs`);
    /// a borrow from [`Evaluator::state`] has ended by now, so the evaluator
    /// is idle afterwards.
    fn busy<T>(&mut self, f: impl FnOnce(&mut EvalState) -> T) -> T {
        self.state.activity.begin();
        let result = f(&mut self.state);
        self.state.activity.end();
        result
    }

    /// Runs the cycle collector now, if no other evaluator of the process is
    /// evaluating; returns how many scopes it emptied (`None` if it did not
    /// run: another evaluator is busy, or another thread changed a
    /// reference count while it counted).
    pub fn collect_cycles(&mut self) -> Option<usize> {
        self.state.activity.end();
        match self.state.collect_cycles() {
            cycles::Outcome::Collected(n) => Some(n),
            cycles::Outcome::Busy | cycles::Outcome::Abandoned => None,
        }
    }

    /// Evaluates an expression given as text; relative paths are resolved
    /// against `base_dir`.
    pub fn eval_str(&mut self, text: &str, base_dir: &str) -> EvalResult<Value> {
        self.top(|state| state.eval_source(text, Origin::String, base_dir))
    }

    /// Evaluates an expression read from standard input (named `«stdin»`).
    pub fn eval_stdin_text(&mut self, text: &str, base_dir: &str) -> EvalResult<Value> {
        self.top(|state| state.eval_source(text, Origin::Stdin, base_dir))
    }

    /// Evaluates a file (a directory means its `default.nix`).
    pub fn eval_file(&mut self, path: &str) -> EvalResult<Value> {
        self.top(|state| state.import_file(path, None, Pos::NONE))
    }

    /// Forces a value to weak head normal form.
    pub fn force(&mut self, v: &Value) -> EvalResult<Value> {
        self.top(|state| state.force(v))
    }

    /// Forces a value completely.
    pub fn force_deep(&mut self, v: &Value) -> EvalResult<()> {
        self.top(|state| state.force_deep(v))
    }

    /// Looks up an attribute of a set (forcing the set, not the attribute).
    pub fn get_attr(&mut self, v: &Value, name: &str) -> EvalResult<Option<Value>> {
        self.busy(|state| {
            let attrs = state.force_attrs(v, Pos::NONE)?;
            Ok(attrs.get_str(name).cloned())
        })
    }

    /// The items of a list (not forced).
    pub fn list_items(&mut self, v: &Value) -> EvalResult<crate::value::List> {
        self.busy(|state| state.force_list(v, Pos::NONE))
    }

    /// Calls a function value.
    pub fn call(&mut self, f: &Value, args: &[Value]) -> EvalResult<Value> {
        self.top(|state| state.apply(f, args, Pos::NONE))
    }

    /// Prints as `nix-instantiate --eval` does; `strict` forces everything first.
    pub fn print(&mut self, v: &Value, strict: bool) -> EvalResult<String> {
        let v = self.force(v)?;
        if strict {
            self.force_deep(&v)?;
        }
        Ok(print_value(&v, PrintStyle::Ambiguous))
    }

    /// Serialises as `nix-instantiate --eval --json` does (path values are
    /// copied to the store and printed as store paths, as CppNix does).
    pub fn to_json(&mut self, v: &Value) -> EvalResult<String> {
        let mut out = String::new();
        let mut ctx = Context::new();
        self.busy(|state| {
            eval::with_stack(|| state.value_to_json(v, &mut ctx, true, &mut out, Pos::NONE))
        })?;
        Ok(out)
    }

    /// Serialises as `nix-instantiate --eval --xml` does: values below the
    /// top level that are not evaluated yet are written as `<unevaluated />`
    /// (call [`Evaluator::force_deep`] first for `--strict`).
    pub fn to_xml(&mut self, v: &Value, location: bool) -> EvalResult<String> {
        let mut ctx = Context::new();
        self.busy(|state| {
            eval::with_stack(|| state.value_to_xml(v, location, false, &mut ctx, Pos::NONE))
        })
    }

    /// Serialises as `nix-instantiate --eval --xml --strict` does (and
    /// `builtins.toXML`, which also has no locations): values are forced as
    /// they are written.
    pub fn to_xml_strict(&mut self, v: &Value, location: bool) -> EvalResult<String> {
        let mut ctx = Context::new();
        self.busy(|state| {
            eval::with_stack(|| state.value_to_xml(v, location, true, &mut ctx, Pos::NONE))
        })
    }

    /// Coerces to a string as `--raw` does.
    pub fn to_raw_string(&mut self, v: &Value) -> EvalResult<String> {
        self.top(|state| {
            state
                .coerce_to_nix_string(v, ops::Coerce::INTERPOLATE, Pos::NONE)
                .map(|s| s.as_str().to_string())
        })
    }

    /// Calls `v` as CppNix's `autoCallFunction` does with `args` (a set):
    /// a set's `__functor` is applied first; a function with formals is
    /// called with the arguments it asks for (all of them if it has `...`),
    /// a missing one without a default being an error; anything else is
    /// returned as is.
    pub fn auto_call(&mut self, v: &Value, args: &Value) -> EvalResult<Value> {
        self.top(|state| state.auto_call(v, args))
    }

    /// The derivations a value denotes, as `nix-instantiate` finds them
    /// (functions are called with `auto_args`, an attribute set).
    pub fn derivations(&mut self, v: &Value, auto_args: &Value) -> EvalResult<Vec<DrvInfo>> {
        self.top(|state| state.find_derivations(v, auto_args))
    }

    /// The `.drv` path and output name of a derivation found by [`Evaluator::derivations`].
    pub fn drv_path_and_output(&mut self, d: &DrvInfo) -> EvalResult<(String, String)> {
        self.top(|state| Ok((state.drv_path_of(d)?, state.output_name_of(d)?)))
    }

    /// Resolves `<name>` against the search path.
    pub fn find_in_search_path(&self, name: &str) -> Option<String> {
        let entries = self.state.settings.search_path.clone();
        self.state.find_in_search_path(&entries, name)
    }

    /// What the cycle collector did so far.
    pub fn cycle_stats(&self) -> CycleStats {
        let c = &self.state.cycles;
        CycleStats {
            collections: c.collections,
            during_evaluation: c.midway,
            emptied: c.emptied,
            abandoned: c.abandoned,
        }
    }

    /// The evaluation counters (printed by the CLI with `NIXKIT_SHOW_STATS=1`).
    pub fn stats(&self) -> &Stats {
        &self.state.stats
    }

    /// Sets the remaining step budget (`None`: unlimited), e.g. before each
    /// evaluation of a long-lived evaluator.
    pub fn set_step_budget(&mut self, steps: Option<u64>) {
        self.state.set_step_budget(steps);
    }

    /// Steps left in the budget (`None`: unlimited).
    pub fn steps_remaining(&self) -> Option<u64> {
        self.state.steps_remaining()
    }

    /// The underlying state, for advanced use (calling builtins directly).
    /// The evaluator counts as evaluating from here until its next call,
    /// so no other evaluator's cycle collector runs meanwhile.
    pub fn state(&mut self) -> &mut EvalState {
        self.state.activity.begin();
        &mut self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn evaluator_is_send() {
        assert_send::<Evaluator>();
        assert_send::<Value>();
    }

    #[test]
    fn value_is_small() {
        assert!(std::mem::size_of::<Value>() <= 24);
    }
}
