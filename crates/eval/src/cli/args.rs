//! `nix-instantiate`'s flags as a clap command ([`command`]), read into
//! [`EvalCliOptions`] ([`options_from_matches`]). Every CppNix setting is also a
//! flag, `--NAME VALUE` (hidden from `--help`, added from the table in
//! [`super::IGNORED_SETTINGS`]); flags that CppNix lets repeat or contradict
//! (`--show-trace`/`--no-show-trace`, `--arg`/`--argstr`, `--option`) take
//! effect in command-line order, as CppNix's parser applies them.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use super::{apply_option, EvalCliOptions, IGNORED_SETTINGS};
use crate::installable::{AutoArg, Installables};

/// Why `nix-instantiate`'s arguments were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// A flag that no command knows.
    #[error("unrecognised flag '{0}'")]
    UnrecognisedFlag(String),
    /// A flag given without its value(s).
    #[error("flag '{0}' requires an argument")]
    MissingValue(String),
    /// `--max-call-depth` that is not a number.
    #[error("invalid max-call-depth '{0}'")]
    InvalidCallDepth(String),
    /// `--help` was asked for: the help text (print it and exit successfully).
    #[error("{0}")]
    Help(String),
    /// Anything else clap refuses, in its words.
    #[error("{0}")]
    Other(String),
}

impl ArgsError {
    /// Converts clap's error, naming the flag as CppNix does.
    pub fn from_clap(e: &clap::Error) -> ArgsError {
        let flag = || match e.get(ContextKind::InvalidArg) {
            // "--arg <NAME> <EXPR>": the flag is the first word.
            Some(ContextValue::String(s)) => s.split_whitespace().next().unwrap_or(s).to_owned(),
            _ => String::new(),
        };
        match e.kind() {
            ErrorKind::UnknownArgument => ArgsError::UnrecognisedFlag(flag()),
            ErrorKind::InvalidValue | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues
                if e.get(ContextKind::InvalidValue).map_or(
                    true,
                    |v| matches!(v, ContextValue::String(s) if s.is_empty()),
                ) =>
            {
                ArgsError::MissingValue(flag())
            }
            ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                ArgsError::Help(e.render().to_string())
            }
            _ => {
                let text = e.render().to_string();
                let text = text.strip_prefix("error: ").unwrap_or(&text);
                ArgsError::Other(text.lines().next().unwrap_or_default().to_owned())
            }
        }
    }
}

/// Evaluate Nix expressions, or instantiate the derivations they denote.
#[derive(clap::Parser, Debug)]
#[command(
    name = "nix-instantiate",
    args_override_self = true,
    disable_version_flag = true
)]
struct InstantiateArgs {
    /// Evaluate and print the result instead of instantiating derivations.
    #[arg(long, visible_alias = "eval-only")]
    eval: bool,
    /// Parse and print the expression instead of evaluating it.
    #[arg(long)]
    parse: bool,
    /// Evaluate the result completely (with --eval, --xml).
    #[arg(long)]
    strict: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Print the result as XML.
    #[arg(long)]
    xml: bool,
    /// Print a string result without quotes or escapes.
    #[arg(long)]
    raw: bool,
    /// Leave source positions out of XML output.
    #[arg(long)]
    no_location: bool,
    /// Show the evaluation trace of errors.
    #[arg(long)]
    show_trace: bool,
    /// Do not show the evaluation trace of errors.
    #[arg(long)]
    no_show_trace: bool,
    /// The maximum depth of function calls.
    #[arg(long, value_name = "N")]
    max_call_depth: Option<String>,
    /// Allow impure operations (the default).
    #[arg(long)]
    impure: bool,
    /// Forbid impure operations (environment, files outside the store, ...).
    #[arg(long)]
    pure_eval: bool,
    /// Make warnings fatal.
    #[arg(long)]
    abort_on_warn: bool,
    /// Make builtins.traceVerbose print.
    #[arg(long)]
    trace_verbose: bool,
    /// Register the .drv paths as garbage collector roots at PATH.
    #[arg(long, value_name = "PATH")]
    add_root: Option<String>,
    /// Accepted for compatibility (roots are always indirect).
    #[arg(long)]
    indirect: bool,
    /// Compute store paths without writing to the store.
    #[arg(long)]
    readonly_mode: bool,
    /// Accepted and ignored.
    #[arg(long, hide = true)]
    read_write_mode: bool,
    /// Accepted and ignored.
    #[arg(long, hide = true)]
    dry_run: bool,
    /// Accepted and ignored.
    #[arg(long, hide = true)]
    repair: bool,
    /// The store to write derivations to.
    #[arg(long, value_name = "URI")]
    store: Option<String>,
    /// Set the setting NAME to VALUE.
    #[arg(long, num_args = 2, value_names = ["NAME", "VALUE"], allow_hyphen_values = true)]
    option: Vec<String>,
    /// Enable experimental features (space-separated).
    #[arg(long, value_name = "FEATURES")]
    experimental_features: Vec<String>,
    /// Enable more experimental features (space-separated).
    #[arg(long, value_name = "FEATURES")]
    extra_experimental_features: Vec<String>,
    /// Report absolute path literals: warn or fatal.
    #[arg(long, value_name = "LEVEL")]
    lint_absolute_path_literals: Option<String>,
    /// Report short path literals (a/b): warn or fatal.
    #[arg(long, value_name = "LEVEL")]
    lint_short_path_literals: Option<String>,
    /// Report URL literals: warn or fatal.
    #[arg(long, value_name = "LEVEL")]
    lint_url_literals: Option<String>,
    #[command(flatten)]
    installables: InstallableArgs,
}

/// The flags that name installables, for any command that evaluates: files
/// (or `-E` expressions), `-A` attribute paths, `--arg`/`--argstr`, and the
/// search path (`-I`) that `<name>` inputs are found in. Commands flatten it
/// into their own clap definitions (`#[command(flatten)]`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct InstallableArgs {
    /// The operands are expressions, not files.
    #[arg(short = 'E', long = "expr")]
    pub expr: bool,
    /// Select an attribute path (a.b, a."b.c", list.0) in each result.
    #[arg(short = 'A', long = "attr", value_name = "ATTRPATH")]
    pub attr: Vec<String>,
    /// Call functions with argument NAME set to the value of EXPR.
    #[arg(long, num_args = 2, value_names = ["NAME", "EXPR"], allow_hyphen_values = true)]
    pub arg: Vec<String>,
    /// Call functions with argument NAME set to the string STRING.
    #[arg(long, num_args = 2, value_names = ["NAME", "STRING"], allow_hyphen_values = true)]
    pub argstr: Vec<String>,
    /// Add PATH (or PREFIX=PATH) to the search path for <...> lookups.
    #[arg(short = 'I', long = "include", value_name = "PATH")]
    pub include: Vec<String>,
    /// Files (`-` is standard input, `<name>` a search-path lookup), or
    /// expressions with -E.
    #[arg(value_name = "FILES")]
    pub inputs: Vec<String>,
}

impl InstallableArgs {
    /// The installables these flags name; `m` (the matches they were read
    /// from) gives the order of `--arg` and `--argstr`.
    pub fn installables(&self, m: &ArgMatches) -> Installables {
        let _ = (&self.arg, &self.argstr);
        Installables {
            from_expr: self.expr,
            inputs: self.inputs.clone(),
            attr_paths: self.attr.clone(),
            auto_args: auto_args_in_order(m),
        }
    }
}

/// The `nix-instantiate` command line, for parsing, `--help`, completions and
/// man pages: the flags above plus every CppNix setting as a hidden
/// `--NAME VALUE` (and `--extra-NAME VALUE`).
pub fn command() -> clap::Command {
    let mut cmd = InstantiateArgs::command();
    for name in IGNORED_SETTINGS {
        for long in [name.to_string(), format!("extra-{name}")] {
            cmd = cmd.arg(
                clap::Arg::new(long.clone())
                    .long(long)
                    .value_name("VALUE")
                    .num_args(1)
                    .allow_hyphen_values(true)
                    .action(clap::ArgAction::Append)
                    .hide(true),
            );
        }
    }
    cmd
}

/// Parses `nix-instantiate` arguments (without the program name).
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<EvalCliOptions, ArgsError> {
    let argv = std::iter::once("nix-instantiate").chain(args.iter().map(AsRef::as_ref));
    let matches = command()
        .try_get_matches_from(argv)
        .map_err(|e| ArgsError::from_clap(&e))?;
    options_from_matches(&matches)
}

/// Where each occurrence of a multi-value flag was, with its values.
fn occurrences<'m>(m: &'m ArgMatches, id: &str) -> Vec<(usize, Vec<&'m String>)> {
    let (Some(indices), Ok(Some(occs))) = (m.indices_of(id), m.try_get_occurrences::<String>(id))
    else {
        return Vec::new();
    };
    let groups: Vec<Vec<&String>> = occs.map(Iterator::collect).collect();
    // `indices_of` gives one index per value; an occurrence starts at its first.
    let mut indices = indices.collect::<Vec<_>>().into_iter();
    groups
        .into_iter()
        .map(|g| {
            let first = indices.next().unwrap_or(0);
            for _ in 1..g.len() {
                indices.next();
            }
            (first, g)
        })
        .collect()
}

/// The `--arg NAME EXPR` and `--argstr NAME STRING` of a command whose flags
/// have the ids `arg` and `argstr`, in command-line order.
pub fn auto_args_in_order(m: &ArgMatches) -> Vec<(String, AutoArg)> {
    let mut auto_args: Vec<(usize, String, AutoArg)> = Vec::new();
    for (i, v) in occurrences(m, "arg") {
        if let [name, e] = v[..] {
            auto_args.push((i, name.clone(), AutoArg::Expr(e.clone())));
        }
    }
    for (i, v) in occurrences(m, "argstr") {
        if let [name, s] = v[..] {
            auto_args.push((i, name.clone(), AutoArg::Str(s.clone())));
        }
    }
    auto_args.sort_by_key(|(i, ..)| *i);
    auto_args.into_iter().map(|(_, n, v)| (n, v)).collect()
}

/// The index of a flag's last occurrence (for flags that contradict each other).
fn last_index(m: &ArgMatches, id: &str) -> Option<usize> {
    if m.value_source(id) != Some(clap::parser::ValueSource::CommandLine) {
        return None;
    }
    m.indices_of(id).and_then(Iterator::max)
}

/// Reads parsed `nix-instantiate` arguments into options.
pub fn options_from_matches(m: &ArgMatches) -> Result<EvalCliOptions, ArgsError> {
    let a = InstantiateArgs::from_arg_matches(m).map_err(|e| ArgsError::from_clap(&e))?;
    let mut o = EvalCliOptions {
        eval: a.eval,
        parse: a.parse,
        strict: a.strict,
        json: a.json,
        xml: a.xml,
        raw: a.raw,
        no_location: a.no_location,
        include: a.installables.include.clone(),
        installables: a.installables.installables(m),
        abort_on_warn: a.abort_on_warn,
        trace_verbose: a.trace_verbose,
        add_root: a.add_root,
        indirect: a.indirect,
        read_only: a.readonly_mode,
        store: a.store,
        ..EvalCliOptions::default()
    };
    let _ = (a.read_write_mode, a.dry_run, a.repair);
    let _ = (a.show_trace, a.no_show_trace, a.impure, a.pure_eval);
    if let Some(n) = &a.max_call_depth {
        o.max_call_depth = Some(
            n.parse()
                .map_err(|_| ArgsError::InvalidCallDepth(n.clone()))?,
        );
    }
    for v in a
        .experimental_features
        .iter()
        .chain(&a.extra_experimental_features)
    {
        o.features.extend(v.split_whitespace().map(str::to_string));
    }
    for (index, level) in [
        a.lint_absolute_path_literals,
        a.lint_short_path_literals,
        a.lint_url_literals,
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(level) = level {
            o.lints[index] = match level.as_str() {
                "warn" => Some(false),
                "fatal" => Some(true),
                _ => None,
            };
        }
    }
    // `--option NAME VALUE`, `--NAME VALUE` and the flags that set the same
    // settings, in command-line order: later ones win.
    let mut settings: Vec<(usize, String, String)> = occurrences(m, "option")
        .into_iter()
        .filter_map(|(i, v)| match v[..] {
            [name, value] => Some((i, name.clone(), value.clone())),
            _ => None,
        })
        .collect();
    for name in IGNORED_SETTINGS {
        for long in [name.to_string(), format!("extra-{name}")] {
            for (i, v) in occurrences(m, &long) {
                if let [value] = v[..] {
                    settings.push((i, long.clone(), value.clone()));
                }
            }
        }
    }
    for (id, setting, value) in [
        ("show_trace", "show-trace", "true"),
        ("no_show_trace", "show-trace", "false"),
        ("pure_eval", "pure-eval", "true"),
        ("impure", "pure-eval", "false"),
    ] {
        if let Some(i) = last_index(m, id) {
            settings.push((i, setting.to_owned(), value.to_owned()));
        }
    }
    settings.sort_by_key(|(i, ..)| *i);
    for (_, name, value) in settings {
        apply_option(&mut o, &name, &value);
    }
    Ok(o)
}
