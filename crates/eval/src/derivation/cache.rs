//! What the evaluator remembers about the derivations and text files it has
//! created: hash-modulo results (CppNix's `drvHashes`, required in read-only
//! mode because nothing is written), and each path's references and output
//! names, so whole-derivation (`=…drv`) contexts can take a closure without
//! reading the store. Paths not created here are looked up through the
//! [`EvalStore`].

use std::collections::{BTreeSet, HashMap};

use nixkit_derivation::{parse_derivation, Derivation, DrvHashMemo};
use nixkit_store::{StoreDir, StorePath};

use crate::io::EvalStore;

/// References and outputs of a path created in this evaluation.
#[derive(Debug, Clone, Default)]
struct PathRecord {
    references: Vec<StorePath>,
    /// Output names, for `.drv` paths.
    outputs: Vec<String>,
}

/// Per-evaluator memory of created derivations and text files.
#[derive(Debug, Default)]
pub(crate) struct DerivationCache {
    pub(crate) memo: DrvHashMemo,
    records: HashMap<StorePath, PathRecord, foldhash::fast::RandomState>,
    store_dir: Option<StoreDir>,
}

impl DerivationCache {
    /// The store directory as a typed value (validated once).
    pub(crate) fn store_dir(&mut self, dir: &str) -> Result<StoreDir, String> {
        if let Some(sd) = &self.store_dir {
            if sd.as_str() == dir {
                return Ok(sd.clone());
            }
        }
        let sd = StoreDir::new(dir).map_err(|e| e.to_string())?;
        self.store_dir = Some(sd.clone());
        Ok(sd)
    }

    /// Records a derivation this evaluator created.
    pub(crate) fn record_derivation(&mut self, drv_path: StorePath, drv: &Derivation) {
        let references = drv.references().into_iter().collect();
        let outputs = drv.outputs.keys().cloned().collect();
        self.records.insert(
            drv_path,
            PathRecord {
                references,
                outputs,
            },
        );
    }

    /// Records a text file (`builtins.toFile`) with its references.
    pub(crate) fn record_text(&mut self, path: StorePath, references: Vec<StorePath>) {
        self.records.insert(
            path,
            PathRecord {
                references,
                outputs: Vec::new(),
            },
        );
    }

    /// The references of a store path: known here, or asked of the store
    /// (unknown paths have none).
    fn references(&self, store: &dyn EvalStore, sd: &StoreDir, path: &StorePath) -> Vec<StorePath> {
        if let Some(r) = self.records.get(path) {
            return r.references.clone();
        }
        if path.name().ends_with(".drv") {
            if let Some(drv) = read_store_derivation(store, sd, path) {
                return drv.references().into_iter().collect();
            }
        }
        match store.query_references(&sd.print_path(path)) {
            Ok(Some(refs)) => refs.iter().filter_map(|r| sd.parse_path(r).ok()).collect(),
            _ => Vec::new(),
        }
    }

    /// The output names of a derivation.
    pub(crate) fn output_names(
        &self,
        store: &dyn EvalStore,
        sd: &StoreDir,
        drv_path: &StorePath,
    ) -> Vec<String> {
        if let Some(r) = self.records.get(drv_path) {
            return r.outputs.clone();
        }
        read_store_derivation(store, sd, drv_path)
            .map(|d| d.outputs.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The closure of `root` under references (including `root`).
    pub(crate) fn closure(
        &self,
        store: &dyn EvalStore,
        sd: &StoreDir,
        root: &StorePath,
    ) -> BTreeSet<StorePath> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![root.clone()];
        while let Some(p) = todo.pop() {
            if seen.contains(&p) {
                continue;
            }
            todo.extend(self.references(store, sd, &p));
            seen.insert(p);
        }
        seen
    }
}

/// Reads and parses a derivation from the store, if it has it.
pub(crate) fn read_store_derivation(
    store: &dyn EvalStore,
    sd: &StoreDir,
    drv_path: &StorePath,
) -> Option<Derivation> {
    let text = store.read_derivation(&sd.print_path(drv_path)).ok()??;
    let name = drv_path
        .name()
        .strip_suffix(".drv")
        .unwrap_or(drv_path.name());
    parse_derivation(sd, name, text.as_bytes()).ok()
}
