//! Finding the derivations a value denotes, as `nix-instantiate` (without
//! `--eval`) and `nix-env` do: a derivation itself; the attributes of a set
//! (sorted by name, names matching `[A-Za-z_][A-Za-z0-9-_+]*`), recursing into
//! nested sets only when they have `recurseForDerivations = true`; or the
//! elements of a list.

use std::collections::HashSet;

use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::source::Pos;
use crate::value::{Attrs, Value};

/// A derivation found in a value.
#[derive(Clone, Debug)]
pub struct DrvInfo {
    /// The attribute path it was found at (`a.b`, `0`, or empty).
    pub attr_path: String,
    /// The attribute set of the derivation.
    pub attrs: Attrs,
}

fn is_attr_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+'))
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

struct Finder<'a> {
    s: &'a mut EvalState,
    auto_args: &'a Value,
    done: HashSet<usize>,
    out: Vec<DrvInfo>,
}

impl Finder<'_> {
    /// Records `v` if it is a derivation; returns true if it is not one
    /// (so the caller may look inside).
    fn derivation(&mut self, v: &Value, path: &str) -> EvalResult<bool> {
        let v = self.s.force(v)?;
        let Value::Attrs(a) = &v else { return Ok(true) };
        if !self.s.is_derivation(a)? {
            return Ok(true);
        }
        if self.done.insert(a.addr()) {
            self.out.push(DrvInfo {
                attr_path: path.to_string(),
                attrs: a.clone(),
            });
        }
        Ok(false)
    }

    fn walk(&mut self, v: &Value, path: &str) -> EvalResult<()> {
        let v = self.s.auto_call(v, self.auto_args)?;
        if !self.derivation(&v, path)? {
            return Ok(());
        }
        match self.s.force(&v)? {
            Value::Attrs(a) => {
                if !self.done.insert(a.addr()) {
                    return Ok(());
                }
                let combine = a.get_str("_combineChannels").is_some();
                for attr in a.sorted_by_name() {
                    let name = attr.name.as_str();
                    if !is_attr_name(name) {
                        continue;
                    }
                    let sub = join(path, name);
                    if combine {
                        self.walk(&attr.value, &sub)?;
                    } else if self.derivation(&attr.value, &sub)? {
                        if let Value::Attrs(inner) = self.s.force(&attr.value)? {
                            if let Some(r) = inner.get_str("recurseForDerivations") {
                                let r = self.s.expect_bool(r).map_err(|e| {
                                    e.with_frame(
                                        "while evaluating the attribute `recurseForDerivations`",
                                        Pos::NONE,
                                    )
                                })?;
                                if r {
                                    self.walk(&attr.value, &sub)?;
                                }
                            }
                        }
                    }
                }
                Ok(())
            }
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    let sub = join(path, &i.to_string());
                    if self.derivation(item, &sub)? {
                        self.walk(item, &sub)?;
                    }
                }
                Ok(())
            }
            _ => Err(EvalError::eval(
                "expression does not evaluate to a derivation (or a set or list of those)",
            )),
        }
    }
}

impl EvalState {
    /// Calls a function with the automatic arguments it asks for (`--arg`),
    /// as CppNix's `autoCallFunction` does; other values are returned as is.
    ///
    /// A function with formals gets the automatic arguments it names (all
    /// of them if it has `...`); a set with `__functor` is applied to
    /// itself and the result auto-called in turn; anything else, including
    /// a plain `x: …` lambda, is returned as is.
    pub(crate) fn auto_call(&mut self, v: &Value, args: &Value) -> EvalResult<Value> {
        let v = self.force(v)?;
        match &v {
            Value::Lambda(c) => {
                let Some(formals) = &c.lambda.formals else {
                    return Ok(v);
                };
                let given = self.force_attrs(args, Pos::NONE)?;
                if let Some(missing) = formals
                    .iter()
                    .find(|f| f.default.is_none() && given.get(f.name).is_none())
                {
                    return Err(EvalError::eval(format!(
                        "cannot evaluate a function that has an argument without a value ('{}')\n\
                         Nix attempted to evaluate a function as a top level expression; in\n\
                         this case it must have its arguments supplied either by default\n\
                         values, or passed explicitly with '--arg' or '--argstr'. See\n\
                         https://nixos.org/manual/nix/stable/language/constructs.html#functions.",
                        missing.name
                    )));
                }
                let passed = if c.lambda.ellipsis {
                    given
                } else {
                    let wanted = given
                        .iter()
                        .filter(|a| formals.iter().any(|f| f.name == a.name));
                    crate::value::Attrs::from_sorted(wanted.cloned().collect())
                };
                self.call(&v, &[Value::Attrs(passed)], Pos::NONE)
            }
            Value::Attrs(a) => match a.get(sym!("__functor")) {
                Some(functor) => {
                    let functor = self.force(functor)?;
                    let applied = self.call(&functor, std::slice::from_ref(&v), Pos::NONE)?;
                    self.auto_call(&applied, args)
                }
                None => Ok(v),
            },
            _ => Ok(v),
        }
    }

    /// The derivations `v` denotes (see the module documentation).
    pub(crate) fn find_derivations(
        &mut self,
        v: &Value,
        auto_args: &Value,
    ) -> EvalResult<Vec<DrvInfo>> {
        let mut f = Finder {
            s: self,
            auto_args,
            done: HashSet::new(),
            out: Vec::new(),
        };
        f.walk(v, "")?;
        Ok(f.out)
    }

    /// The `.drv` path of a derivation found by [`EvalState::find_derivations`].
    pub(crate) fn drv_path_of(&mut self, d: &DrvInfo) -> EvalResult<String> {
        let Some(p) = d.attrs.get_str("drvPath").cloned() else {
            return Err(EvalError::eval("derivation lacks a 'drvPath' attribute"));
        };
        let s = self
            .coerce_to_nix_string(&p, crate::ops::Coerce::PLAIN, Pos::NONE)
            .map_err(|e| {
                e.with_frame(
                    "while evaluating the 'drvPath' attribute of a derivation",
                    Pos::NONE,
                )
            })?;
        let path = s.as_str();
        // CppNix parses the value as a store path that must be a derivation.
        let dir = self.store.store_dir();
        let base = path
            .strip_prefix(dir)
            .and_then(|r| r.strip_prefix('/'))
            .filter(|b| !b.is_empty() && !b.contains('/'));
        match base {
            None => Err(EvalError::eval(format!(
                "path '{path}' is not in the Nix store"
            ))),
            Some(b) if !b.ends_with(".drv") => Err(EvalError::eval(format!(
                "store path '{b}' is not a valid derivation path"
            ))),
            Some(_) => Ok(path.to_string()),
        }
    }

    /// The `outputName` of a derivation (empty if it has none).
    pub(crate) fn output_name_of(&mut self, d: &DrvInfo) -> EvalResult<String> {
        match d.attrs.get_str("outputName").cloned() {
            Some(v) => Ok(self.force_string(&v, Pos::NONE)?.as_str().to_string()),
            None => Ok(String::new()),
        }
    }
}
