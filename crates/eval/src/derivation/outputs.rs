//! The output side of `derivationStrict`: the `outputs` list, the
//! `outputHash*` attributes, the derivation name check, and filling in output
//! paths for fixed-output and input-addressed derivations.

use std::collections::BTreeSet;
use std::str::FromStr;

use nixkit_derivation::{Derivation, DerivationOutput};
use nixkit_store::{
    ContentAddress, ContentAddressMethod, FileIngestionMethod, Hash, HashAlgo, StoreDir,
};

use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;

/// `outputHashMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HashMode {
    Flat,
    Recursive,
}

impl HashMode {
    pub(super) fn parse(s: &str) -> EvalResult<HashMode> {
        match s {
            "flat" => Ok(HashMode::Flat),
            "recursive" | "nar" => Ok(HashMode::Recursive),
            "text" => Err(super::feature_error("dynamic-derivations")),
            "git" => Err(super::feature_error("git-hashing")),
            _ => Err(EvalError::eval(format!(
                "invalid value '{s}' for 'outputHashMode' attribute"
            ))),
        }
    }
}

/// What the attributes said about outputs.
#[derive(Debug)]
pub(super) struct OutputSpec {
    pub(super) outputs: BTreeSet<String>,
    pub(super) hash: Option<String>,
    pub(super) algo: Option<HashAlgo>,
    pub(super) mode: Option<HashMode>,
    pub(super) content_addressed: bool,
    pub(super) impure: bool,
}

impl Default for OutputSpec {
    fn default() -> OutputSpec {
        OutputSpec {
            outputs: BTreeSet::from(["out".to_string()]),
            hash: None,
            algo: None,
            mode: None,
            content_addressed: false,
            impure: false,
        }
    }
}

/// Checks an `outputs` list: no duplicates, no `drvPath`, not empty.
pub(super) fn parse_outputs(
    names: impl IntoIterator<Item = String>,
) -> EvalResult<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for n in names {
        if out.contains(&n) {
            return Err(EvalError::eval(format!(
                "duplicate derivation output '{n}'"
            )));
        }
        if n == "drvPath" {
            return Err(EvalError::eval("invalid derivation output name 'drvPath'"));
        }
        out.insert(n);
    }
    if out.is_empty() {
        return Err(EvalError::eval(
            "derivation cannot have an empty set of outputs",
        ));
    }
    Ok(out)
}

/// CppNix's store path name rules, with its wording.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name must not be empty".to_string());
    }
    if name.len() > 211 {
        return Err(format!(
            "name '{name}' must be no longer than 211 characters"
        ));
    }
    for reserved in [".", ".."] {
        if name == reserved {
            return Err(format!("name '{name}' is not valid"));
        }
        if name
            .strip_prefix(reserved)
            .is_some_and(|r| r.starts_with('-'))
        {
            return Err(format!("name '{name}' is not valid: first dash-separated component must not be '{reserved}'"));
        }
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+-._?=".contains(*c)))
    {
        return Err(format!("name '{name}' contains illegal character '{c}'"));
    }
    Ok(())
}

/// The derivation name must be a valid store path name, and may end in
/// `.drv` only for text-hashed single-output derivations (never here, as
/// text hashing needs an experimental feature).
pub(super) fn check_derivation_name(name: &str, _spec: &OutputSpec) -> EvalResult<()> {
    check_name(name).map_err(|m| {
        EvalError::eval(format!(
            "invalid derivation name: {m}. Please pass a different 'name'."
        ))
    })?;
    if name.ends_with(".drv") {
        return Err(EvalError::eval(
            "derivation names are allowed to end in '.drv' only if they produce a single derivation file",
        ));
    }
    Ok(())
}

impl OutputSpec {
    /// `outputHashAlgo`: unknown names count as unset, as in CppNix.
    pub(super) fn set_algo(&mut self, s: &str) {
        self.algo = HashAlgo::from_str(s).ok();
    }

    /// Sets the outputs of `drv` and their environment variables.
    pub(super) fn fill_outputs(
        &self,
        s: &mut EvalState,
        sd: &StoreDir,
        drv: &mut Derivation,
    ) -> EvalResult<()> {
        if let Some(hash) = &self.hash {
            if self.outputs.len() != 1 || !self.outputs.contains("out") {
                return Err(EvalError::eval(
                    "multiple outputs are not supported in fixed-output derivations",
                ));
            }
            let hash = parse_hash_allow_empty(s, hash, self.algo)?;
            let method = match self.mode.unwrap_or(HashMode::Flat) {
                HashMode::Flat => FileIngestionMethod::Flat,
                HashMode::Recursive => FileIngestionMethod::Recursive,
            };
            let ca = ContentAddress {
                method: ContentAddressMethod::Fixed(method),
                hash,
            };
            let path = drv
                .fixed_output_path(sd, "out", &ca)
                .map_err(|e| EvalError::eval(e.to_string()))?;
            drv.env.insert("out".to_string(), sd.print_path(&path));
            drv.outputs
                .insert("out".to_string(), DerivationOutput::CaFixed(ca));
            return Ok(());
        }
        for o in &self.outputs {
            drv.env.insert(o.clone(), String::new());
            drv.outputs.insert(o.clone(), DerivationOutput::Deferred);
        }
        super::fill_paths(s, sd, drv)
    }
}

/// CppNix's `newHashAllowEmpty`: an empty hash with a known algorithm is the
/// all-zero hash (with a warning).
pub(crate) fn parse_hash_allow_empty(
    s: &EvalState,
    text: &str,
    algo: Option<HashAlgo>,
) -> EvalResult<Hash> {
    if text.is_empty() {
        let Some(algo) = algo else {
            return Err(EvalError::eval(
                "empty hash requires explicit hash algorithm",
            ));
        };
        let h = Hash::from_digest(algo, &vec![0u8; algo.digest_len()])
            .map_err(|e| EvalError::eval(e.to_string()))?;
        s.message(&format!(
            "warning: found empty hash, assuming '{}'",
            h.to_sri()
        ));
        return Ok(h);
    }
    Hash::parse_any(text, algo).map_err(|e| EvalError::eval(e.to_string()))
}
