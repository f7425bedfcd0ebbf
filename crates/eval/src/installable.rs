//! Installable selection, the one implementation every command uses: which
//! files or expressions to evaluate (`FILE…`, `-E EXPR…`, `-` for standard
//! input, `<name>` from the search path), the `-A` attribute paths to select
//! in them (with `"quoted.keys"` and list indices), and the `--arg`/`--argstr`
//! values functions are auto-called with.
//!
//! ```
//! use nixkit_eval::installable::{AutoArg, InputContext, Installables};
//!
//! let sel = Installables {
//!     from_expr: true,
//!     inputs: vec!["{ n }: { a = [ n (n + 1) ]; }".into()],
//!     attr_paths: vec!["a.1".into()],
//!     auto_args: vec![("n".into(), AutoArg::Expr("41".into()))],
//! };
//! let mut ev = nixkit_eval::Evaluator::builder().build();
//! let mut found = Vec::new();
//! sel.for_each(&mut ev, &InputContext::new("/"), true, |ev, v, _| {
//!     found.push(ev.print(&v, true)?);
//!     Ok(())
//! })
//! .unwrap();
//! assert_eq!(found, ["42"]);
//! ```

use crate::{EvalError, Evaluator, Value};

/// A `--arg`/`--argstr` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AutoArg {
    /// `--arg name expr`: a Nix expression, evaluated in the working directory.
    Expr(String),
    /// `--argstr name string`: a string.
    Str(String),
}

/// What to evaluate and select: the part of a command line that names
/// installables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Installables {
    /// `-E`: the inputs are expressions, not files.
    pub from_expr: bool,
    /// Files (or expressions with `-E`); `-` is standard input, `<name>` a
    /// search-path lookup. Empty: [`InputContext::default_input`].
    pub inputs: Vec<String>,
    /// `-A` attribute paths (`a.b`, `a."b.c"`, `list.0`); empty: the value itself.
    pub attr_paths: Vec<String>,
    /// `--arg` / `--argstr`, in command-line order.
    pub auto_args: Vec<(String, AutoArg)>,
}

/// Where inputs are found.
#[derive(Clone, Debug)]
pub struct InputContext<'a> {
    /// The working directory (absolute): relative files and `--arg`
    /// expressions are resolved against it.
    pub cwd: &'a str,
    /// Standard input's text, for the input `-`.
    pub stdin: Option<&'a str>,
    /// The input when none is given and not `-E` (`-` for `nix-instantiate`,
    /// `./default.nix` for `nix-build`).
    pub default_input: &'a str,
}

impl<'a> InputContext<'a> {
    /// Inputs relative to `cwd`, no standard input, `-` as the default input.
    pub fn new(cwd: &'a str) -> Self {
        Self {
            cwd,
            stdin: None,
            default_input: "-",
        }
    }
}

impl Installables {
    /// The `--arg`/`--argstr` values as the attribute set functions are
    /// auto-called with.
    pub fn auto_args_value(&self, ev: &mut Evaluator, cwd: &str) -> Result<Value, EvalError> {
        let mut pairs = Vec::with_capacity(self.auto_args.len());
        for (name, arg) in &self.auto_args {
            let v = match arg {
                AutoArg::Str(s) => Value::string(s.as_str()),
                AutoArg::Expr(e) => ev.eval_str(e, cwd)?,
            };
            pairs.push((nixkit_syntax::Symbol::intern(name), v));
        }
        Ok(Value::attrs(crate::Attrs::from_pairs(pairs)))
    }

    /// Evaluates every input and selects every attribute path in it, in
    /// order (input-major), calling `f` with each selected value and the
    /// auto-call arguments. Functions met on the way are auto-called; the
    /// selected value itself is called only if `call_result`. An input is
    /// evaluated only after `f` has seen everything the previous one gave.
    pub fn for_each(
        &self,
        ev: &mut Evaluator,
        ctx: &InputContext<'_>,
        call_result: bool,
        mut f: impl FnMut(&mut Evaluator, Value, &Value) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        let auto_args = self.auto_args_value(ev, ctx.cwd)?;
        let default = [if self.from_expr {
            String::new()
        } else {
            ctx.default_input.to_owned()
        }];
        let inputs = if self.inputs.is_empty() {
            &default[..]
        } else {
            &self.inputs[..]
        };
        for input in inputs {
            let root = self.evaluate_input(ev, ctx, input)?;
            let whole = [String::new()];
            let paths = if self.attr_paths.is_empty() {
                &whole[..]
            } else {
                &self.attr_paths[..]
            };
            for path in paths {
                let v = select_attr_path(ev, &root, path, &auto_args)?;
                let v = if call_result {
                    ev.auto_call(&v, &auto_args)?
                } else {
                    v
                };
                f(ev, v, &auto_args)?;
            }
        }
        Ok(())
    }

    fn evaluate_input(
        &self,
        ev: &mut Evaluator,
        ctx: &InputContext<'_>,
        input: &str,
    ) -> Result<Value, EvalError> {
        if self.from_expr {
            return ev.eval_str(input, ctx.cwd);
        }
        if input == "-" {
            return ev.eval_stdin_text(ctx.stdin.unwrap_or(""), ctx.cwd);
        }
        let path = if let Some(name) = input.strip_prefix('<').and_then(|i| i.strip_suffix('>')) {
            ev.find_in_search_path(name).ok_or_else(|| {
                EvalError::eval(format!(
                    "file '{name}' was not found in the Nix search path (add it using $NIX_PATH or -I)"
                ))
            })?
        } else {
            absolute_path(ctx.cwd, input)
        };
        ev.eval_file(&path)
    }
}

/// `path` made absolute against `cwd` and canonicalised textually.
pub fn absolute_path(cwd: &str, path: &str) -> String {
    if path.starts_with('/') {
        crate::ops::canon_path(path)
    } else {
        crate::ops::canon_path(&format!("{cwd}/{path}"))
    }
}

/// Selects the attribute path `path` (`a.b`, `a."b.c"`, `list.0`) in `root`,
/// auto-calling every function met before a key with `args`.
pub fn select_attr_path(
    ev: &mut Evaluator,
    root: &Value,
    path: &str,
    args: &Value,
) -> Result<Value, EvalError> {
    let mut v = root.clone();
    for key in split_attr_path(path) {
        v = ev.auto_call(&v, args)?;
        if let Ok(i) = key.parse::<usize>() {
            if let Value::List(l) = ev.force(&v)? {
                v = l.get(i).cloned().ok_or_else(|| {
                    EvalError::eval(format!(
                        "list index {i} in selection path '{path}' is out of range"
                    ))
                })?;
                continue;
            }
        }
        let forced = ev.force(&v)?;
        let Value::Attrs(a) = &forced else {
            return Err(EvalError::eval(format!(
                "the expression selected by the selection path '{path}' should be a set but is {}",
                forced.type_of()
            )));
        };
        v = a.get_str(&key).cloned().ok_or_else(|| {
            EvalError::eval(format!(
                "attribute '{key}' in selection path '{path}' not found"
            ))
        })?;
    }
    Ok(v)
}

/// Splits an attribute path at dots outside double quotes.
fn split_attr_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if !cur.is_empty() || !out.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split_attr_path;

    #[test]
    fn attr_paths_split_outside_quotes() {
        assert_eq!(split_attr_path(""), Vec::<String>::new());
        assert_eq!(split_attr_path("a.b.0"), ["a", "b", "0"]);
        assert_eq!(split_attr_path("a.\"b.c\".d"), ["a", "b.c", "d"]);
        assert_eq!(split_attr_path("a."), ["a", ""]);
    }
}
