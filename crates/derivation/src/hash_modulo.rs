//! Hashing derivations modulo fixed-output derivations, computing output paths
//! (as `derivationStrict` does) and `.drv` paths. No IO: input derivations come from a
//! caller-provided [`DerivationSource`], and results are memoised in a caller-owned
//! [`DrvHashMemo`].

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;

use nixkit_store::{
    output_path_name, Hash, HashAlgo, InvalidName, MakePathError, StoreDir, StorePath,
};

use crate::aterm_write::{AtermOptions, WriteDerivationError};
use crate::derivation::{
    hash_placeholder, Derivation, DerivationKind, DerivationKindError, DerivationOutput,
};

/// Gives the parsed derivation stored at a `.drv` path.
pub trait DerivationSource {
    /// The derivation at `drv_path`, if known.
    fn derivation(&self, drv_path: &StorePath) -> Option<Cow<'_, Derivation>>;
}

impl<S: BuildHasher> DerivationSource for HashMap<StorePath, Derivation, S> {
    fn derivation(&self, drv_path: &StorePath) -> Option<Cow<'_, Derivation>> {
        self.get(drv_path).map(Cow::Borrowed)
    }
}

impl DerivationSource for BTreeMap<StorePath, Derivation> {
    fn derivation(&self, drv_path: &StorePath) -> Option<Cow<'_, Derivation>> {
        self.get(drv_path).map(Cow::Borrowed)
    }
}

impl<F: Fn(&StorePath) -> Option<Derivation>> DerivationSource for F {
    fn derivation(&self, drv_path: &StorePath) -> Option<Cow<'_, Derivation>> {
        self(drv_path).map(Cow::Owned)
    }
}

/// Whether a derivation's hash can determine output paths now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrvHashKind {
    /// Output paths follow from the hashes.
    Regular,
    /// Some input is content-addressed or impure: output paths are deferred.
    Deferred,
}

/// The hash modulo of a derivation, per output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrvHash {
    /// A hash for each output, sorted by output name. (A sorted boxed slice
    /// rather than a map: an evaluator keeps one of these for every
    /// derivation it creates, and a map's node is ten times larger.)
    pub hashes: Box<[(String, Hash)]>,
    /// Whether the hashes can be used to compute output paths.
    pub kind: DrvHashKind,
}

impl DrvHash {
    /// The hash of output `name`.
    pub fn get(&self, name: &str) -> Option<&Hash> {
        self.hashes
            .binary_search_by(|(o, _)| o.as_str().cmp(name))
            .ok()
            .map(|i| &self.hashes[i].1)
    }
}

/// Hash modulo results per input `.drv` path, owned by the caller so they can be reused.
pub type DrvHashMemo = HashMap<StorePath, DrvHash, foldhash::fast::RandomState>;

/// Why a hash modulo or output path could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashModuloError {
    /// An input derivation the source does not know.
    #[error("derivation '{drv}': input derivation '{input}' is not available")]
    MissingInput {
        /// The derivation being hashed.
        drv: String,
        /// The missing input `.drv` (base name).
        input: String,
    },
    /// An input derivation lacks an output that is used.
    #[error("derivation '{drv}': input '{input}' has no output '{output}'")]
    MissingOutput {
        /// The derivation being hashed.
        drv: String,
        /// The input `.drv` (base name).
        input: String,
        /// The output name.
        output: String,
    },
    /// The outputs are inconsistent.
    #[error(transparent)]
    Kind(#[from] DerivationKindError),
    /// The ATerm could not be written.
    #[error(transparent)]
    Write(#[from] WriteDerivationError),
    /// A path could not be computed.
    #[error("derivation '{drv}': {source}")]
    Path {
        /// The derivation.
        drv: String,
        /// Why.
        source: MakePathError,
    },
}

/// CppNix's `hashDerivationModulo`: fixed-output derivations hash to their content address
/// and output path; others hash their ATerm with each input derivation replaced by the hex of
/// its own hash modulo (and, with `mask_outputs`, their own output paths blanked).
pub fn hash_derivation_modulo(
    drv: &Derivation,
    store_dir: &StoreDir,
    mask_outputs: bool,
    source: &dyn DerivationSource,
    memo: &mut DrvHashMemo,
) -> Result<DrvHash, HashModuloError> {
    let path_error = |source: MakePathError| HashModuloError::Path {
        drv: drv.name.clone(),
        source,
    };
    let kind = match drv.kind()? {
        DerivationKind::ContentAddressed { fixed: true } => {
            let mut hashes = Vec::new();
            for (name, output) in &drv.outputs {
                if let DerivationOutput::CaFixed(ca) = output {
                    let path = drv
                        .fixed_output_path(store_dir, name, ca)
                        .map_err(path_error)?;
                    let text = format!(
                        "fixed:out:{}{}:{}:{}",
                        ca.method.prefix(),
                        ca.hash.algo(),
                        ca.hash.to_base16(),
                        store_dir.print_path(&path)
                    );
                    hashes.push((
                        name.clone(),
                        Hash::digest(HashAlgo::Sha256, text.as_bytes()),
                    ));
                }
            }
            return Ok(DrvHash {
                hashes: hashes.into_boxed_slice(),
                kind: DrvHashKind::Regular,
            });
        }
        DerivationKind::Impure => {
            let impure = Hash::digest(HashAlgo::Sha256, b"impure");
            let hashes = drv.outputs.keys().map(|o| (o.clone(), impure)).collect();
            return Ok(DrvHash {
                hashes,
                kind: DrvHashKind::Deferred,
            });
        }
        DerivationKind::ContentAddressed { fixed: false } => DrvHashKind::Deferred,
        // Deferred outputs may just be masked ones, so they do not make the hash deferred.
        DerivationKind::InputAddressed { .. } => DrvHashKind::Regular,
    };
    let mut kind = kind;
    let mut inputs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (input_path, outputs) in &drv.input_drvs {
        let input_hash = input_hash(drv, input_path, store_dir, source, memo)?;
        if input_hash.kind == DrvHashKind::Deferred {
            kind = DrvHashKind::Deferred;
        }
        for output in outputs {
            let h = input_hash
                .get(output)
                .ok_or_else(|| HashModuloError::MissingOutput {
                    drv: drv.name.clone(),
                    input: input_path.to_string(),
                    output: output.clone(),
                })?;
            inputs
                .entry(h.to_base16())
                .or_default()
                .insert(output.clone());
        }
    }
    let mut text = String::new();
    let options = AtermOptions {
        mask_outputs,
        input_override: Some(&inputs),
    };
    drv.write_aterm(store_dir, &options, &mut text)?;
    let hash = Hash::digest(HashAlgo::Sha256, text.as_bytes());
    Ok(DrvHash {
        hashes: drv.outputs.keys().map(|o| (o.clone(), hash)).collect(),
        kind,
    })
}

/// The (memoised) hash modulo of input derivation `input_path`.
fn input_hash(
    drv: &Derivation,
    input_path: &StorePath,
    store_dir: &StoreDir,
    source: &dyn DerivationSource,
    memo: &mut DrvHashMemo,
) -> Result<DrvHash, HashModuloError> {
    if let Some(h) = memo.get(input_path) {
        return Ok(h.clone());
    }
    let input = source
        .derivation(input_path)
        .ok_or_else(|| HashModuloError::MissingInput {
            drv: drv.name.clone(),
            input: input_path.to_string(),
        })?;
    let h = hash_derivation_modulo(&input, store_dir, false, source, memo)?;
    memo.insert(input_path.clone(), h.clone());
    Ok(h)
}

/// Fills in output paths and the matching environment variables, as `derivationStrict`
/// does after building the derivation from attributes:
///
/// - fixed-output: `env.out` becomes the fixed path;
/// - floating content-addressed or impure: `env.<output>` becomes the output's placeholder;
/// - otherwise the outputs are masked, hashed modulo, and (unless an input is deferred)
///   become input-addressed with `env.<output>` set to their paths; else they stay deferred.
pub fn fill_output_paths(
    drv: &mut Derivation,
    store_dir: &StoreDir,
    source: &dyn DerivationSource,
    memo: &mut DrvHashMemo,
) -> Result<(), HashModuloError> {
    let path_error = |drv: &Derivation, source: MakePathError| HashModuloError::Path {
        drv: drv.name.clone(),
        source,
    };
    match drv.kind()? {
        DerivationKind::ContentAddressed { fixed: true } => {
            let outputs: Vec<(String, StorePath)> = drv
                .outputs
                .iter()
                .filter_map(|(name, output)| match output {
                    DerivationOutput::CaFixed(ca) => Some((name, ca)),
                    _ => None,
                })
                .map(|(name, ca)| {
                    drv.fixed_output_path(store_dir, name, ca)
                        .map(|p| (name.clone(), p))
                })
                .collect::<Result<_, _>>()
                .map_err(|e| path_error(drv, e))?;
            for (name, path) in outputs {
                drv.env.insert(name, store_dir.print_path(&path));
            }
        }
        DerivationKind::ContentAddressed { fixed: false } | DerivationKind::Impure => {
            let names: Vec<String> = drv.outputs.keys().cloned().collect();
            for name in names {
                let placeholder = hash_placeholder(&name);
                drv.env.insert(name, placeholder);
            }
        }
        DerivationKind::InputAddressed { .. } => {
            let names: Vec<String> = drv.outputs.keys().cloned().collect();
            for name in &names {
                drv.env.insert(name.clone(), String::new());
                drv.outputs.insert(name.clone(), DerivationOutput::Deferred);
            }
            let hash = hash_derivation_modulo(drv, store_dir, true, source, memo)?;
            if hash.kind == DrvHashKind::Deferred {
                return Ok(());
            }
            for name in names {
                let Some(h) = hash.get(&name) else {
                    continue;
                };
                let path = store_dir
                    .make_output_path(&name, h, &drv.name)
                    .map_err(|e: InvalidName| path_error(drv, e.into()))?;
                drv.env.insert(name.clone(), store_dir.print_path(&path));
                drv.outputs
                    .insert(name, DerivationOutput::InputAddressed { path });
            }
        }
    }
    Ok(())
}

/// Why a `.drv` path could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrvPathError {
    /// The ATerm could not be written.
    #[error(transparent)]
    Write(#[from] WriteDerivationError),
    /// The path could not be made (e.g. the name is invalid).
    #[error(transparent)]
    Path(#[from] MakePathError),
}

impl Derivation {
    /// The `.drv` store path: a text path named `<name>.drv` over the ATerm, referencing the
    /// input sources and input derivations.
    pub fn drv_path(&self, store_dir: &StoreDir) -> Result<StorePath, DrvPathError> {
        let text = self.to_aterm(store_dir)?;
        Ok(self.drv_path_of_aterm(store_dir, &text)?)
    }

    /// The `.drv` store path given this derivation's already written ATerm `text`.
    pub fn drv_path_of_aterm(
        &self,
        store_dir: &StoreDir,
        text: &str,
    ) -> Result<StorePath, MakePathError> {
        let hash = Hash::digest(HashAlgo::Sha256, text.as_bytes());
        store_dir.make_text_path(&format!("{}.drv", self.name), &hash, &self.references())
    }

    /// Output name → output path name (`name` for `out`, `name-<output>` otherwise).
    pub fn output_path_names(&self) -> BTreeMap<&str, String> {
        self.outputs
            .keys()
            .map(|o| (o.as_str(), output_path_name(&self.name, o)))
            .collect()
    }
}
