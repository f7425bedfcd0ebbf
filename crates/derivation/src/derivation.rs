//! The derivation model: outputs of every kind, inputs, builder, arguments and environment.

use std::collections::{BTreeMap, BTreeSet};

use nixkit_store::{
    output_path_name, ContentAddress, ContentAddressMethod, Hash, HashAlgo, MakePathError,
    StoreDir, StorePath,
};

/// One output of a derivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DerivationOutput {
    /// A classic output whose path is computed from the derivation (hash modulo).
    InputAddressed {
        /// The output path.
        path: StorePath,
    },
    /// A fixed-output (content-addressed with a known hash) output; its path follows from the
    /// content address, the derivation name and the output name.
    CaFixed(ContentAddress),
    /// A content-addressed output whose hash is only known after building.
    CaFloating {
        /// How the output will be hashed.
        method: ContentAddressMethod,
        /// With which algorithm.
        algo: HashAlgo,
    },
    /// An input-addressed output whose path cannot be known yet (its inputs are floating).
    Deferred,
    /// An impure output (content-addressed, never cached).
    Impure {
        /// How the output will be hashed.
        method: ContentAddressMethod,
        /// With which algorithm.
        algo: HashAlgo,
    },
}

/// What kind of derivation this is, judged from its outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerivationKind {
    /// Input-addressed outputs (possibly all deferred).
    InputAddressed {
        /// True when the outputs are deferred.
        deferred: bool,
    },
    /// Content-addressed outputs.
    ContentAddressed {
        /// True for a fixed-output derivation.
        fixed: bool,
    },
    /// Impure outputs.
    Impure,
}

/// Why a derivation's outputs do not form a valid kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DerivationKindError {
    /// No outputs.
    #[error("derivation '{0}' has no outputs")]
    NoOutputs(String),
    /// Outputs of different kinds.
    #[error("derivation '{0}' mixes output kinds")]
    Mixed(String),
    /// A fixed-output derivation with an output other than a single `out`.
    #[error("fixed-output derivation '{0}' must have exactly one output, 'out'")]
    FixedNotSingleOut(String),
}

/// A derivation. Its `name` is not part of the ATerm text; it comes from the `.drv` path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Derivation {
    /// The derivation's name (the `.drv` path's name without `.drv`).
    pub name: String,
    /// Outputs by name.
    pub outputs: BTreeMap<String, DerivationOutput>,
    /// Input derivations (`.drv` paths) with the output names used from each.
    pub input_drvs: BTreeMap<StorePath, BTreeSet<String>>,
    /// Input sources (plain store paths).
    pub input_srcs: BTreeSet<StorePath>,
    /// The platform, e.g. `x86_64-linux`.
    pub system: String,
    /// The builder executable.
    pub builder: String,
    /// Arguments to the builder.
    pub args: Vec<String>,
    /// Environment variables; structured attributes live in `__json`.
    pub env: BTreeMap<String, String>,
}

/// The placeholder for output `output`: `/` followed by nix32 of `sha256("nix-output:<output>")`.
pub fn hash_placeholder(output: &str) -> String {
    let h = Hash::digest(HashAlgo::Sha256, format!("nix-output:{output}").as_bytes());
    format!("/{}", h.to_nix32())
}

/// The placeholder standing for output `output` of the derivation at `drv_path` whose path is
/// not known yet (a floating or deferred output): `/` followed by nix32 of
/// `sha256("nix-upstream-output:<drv hash part>:<output path name>")`.
pub fn downstream_placeholder(drv_path: &StorePath, output: &str) -> String {
    let drv_name = drv_path
        .name()
        .strip_suffix(".drv")
        .unwrap_or(drv_path.name());
    let clear_text = format!(
        "nix-upstream-output:{}:{}",
        drv_path.hash_part(),
        output_path_name(drv_name, output)
    );
    let h = Hash::digest(HashAlgo::Sha256, clear_text.as_bytes());
    format!("/{}", h.to_nix32())
}

impl Derivation {
    /// The derivation's kind, or why its outputs are inconsistent.
    pub fn kind(&self) -> Result<DerivationKind, DerivationKindError> {
        let mut kind = None;
        for output in self.outputs.values() {
            let this = match output {
                DerivationOutput::InputAddressed { .. } => {
                    DerivationKind::InputAddressed { deferred: false }
                }
                DerivationOutput::Deferred => DerivationKind::InputAddressed { deferred: true },
                DerivationOutput::CaFixed(_) => DerivationKind::ContentAddressed { fixed: true },
                DerivationOutput::CaFloating { .. } => {
                    DerivationKind::ContentAddressed { fixed: false }
                }
                DerivationOutput::Impure { .. } => DerivationKind::Impure,
            };
            match kind {
                None => kind = Some(this),
                Some(k) if k == this => {}
                Some(_) => return Err(DerivationKindError::Mixed(self.name.clone())),
            }
        }
        let kind = kind.ok_or_else(|| DerivationKindError::NoOutputs(self.name.clone()))?;
        if kind == (DerivationKind::ContentAddressed { fixed: true })
            && (self.outputs.len() != 1 || !self.outputs.contains_key("out"))
        {
            return Err(DerivationKindError::FixedNotSingleOut(self.name.clone()));
        }
        Ok(kind)
    }

    /// True for a fixed-output derivation.
    pub fn is_fixed_output(&self) -> bool {
        matches!(
            self.kind(),
            Ok(DerivationKind::ContentAddressed { fixed: true })
        )
    }

    /// The path of a fixed output `output` with content address `ca`.
    pub fn fixed_output_path(
        &self,
        store_dir: &StoreDir,
        output: &str,
        ca: &ContentAddress,
    ) -> Result<StorePath, MakePathError> {
        store_dir.make_path_from_ca(
            &output_path_name(&self.name, output),
            ca,
            &BTreeSet::new(),
            false,
        )
    }

    /// The path of output `output` if it is known (input-addressed or fixed).
    pub fn output_path(
        &self,
        store_dir: &StoreDir,
        output: &str,
    ) -> Result<Option<StorePath>, MakePathError> {
        match self.outputs.get(output) {
            Some(DerivationOutput::InputAddressed { path }) => Ok(Some(path.clone())),
            Some(DerivationOutput::CaFixed(ca)) => {
                self.fixed_output_path(store_dir, output, ca).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The paths of the outputs whose path is known (input-addressed or fixed),
    /// by output name: the mapping a store records for a `.drv` when it is
    /// registered. Outputs whose path cannot be computed are left out.
    pub fn known_output_paths(&self, store_dir: &StoreDir) -> BTreeMap<String, StorePath> {
        self.outputs
            .keys()
            .filter_map(|o| Some((o.clone(), self.output_path(store_dir, o).ok()??)))
            .collect()
    }

    /// The structured attributes JSON text (`env.__json`), if any.
    pub fn structured_attrs(&self) -> Option<&str> {
        self.env.get("__json").map(String::as_str)
    }

    /// The store references of the `.drv` file: input sources plus input derivation paths.
    pub fn references(&self) -> BTreeSet<StorePath> {
        let mut refs = self.input_srcs.clone();
        refs.extend(self.input_drvs.keys().cloned());
        refs
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_of_out() {
        // `builtins.placeholder "out"` in CppNix.
        assert_eq!(
            hash_placeholder("out"),
            "/1rz4g4znpzjwh1xymhjpm42vipw92pr73vdgl6xs1hycac8kf2n9"
        );
    }
}
