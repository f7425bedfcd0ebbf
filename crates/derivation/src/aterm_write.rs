//! Writing derivations in CppNix's ATerm form (`Derive(…)`), byte for byte.
//!
//! Output names, paths, hash fields, input names and the system are written raw; the builder,
//! arguments and environment are escaped (`"`, `\`, newline, carriage return, tab). A raw
//! field holding `"` or `\` would make a `.drv` no parser reads back (CppNix writes one and
//! then fails to read it); such a derivation is refused instead (found by fuzzing the
//! parse–print round trip).

use std::collections::{BTreeMap, BTreeSet};

use nixkit_store::{MakePathError, StoreDir};

use crate::derivation::{Derivation, DerivationOutput};

/// Why a derivation could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteDerivationError {
    /// A fixed output's path could not be computed.
    #[error("derivation '{name}': computing the path of fixed output '{output}': {source}")]
    FixedOutputPath {
        /// The derivation name.
        name: String,
        /// The output name.
        output: String,
        /// Why.
        source: MakePathError,
    },
    /// A field written unescaped holds `"` or `\`, so the text would not read back.
    #[error("derivation '{name}': {field} '{value}' contains '\"' or '\\', which a .drv file cannot hold")]
    Unwritable {
        /// The derivation name.
        name: String,
        /// Which field (`system`, `output name`, `input output name`).
        field: &'static str,
        /// Its value.
        value: String,
    },
}

/// How to write the input derivations and outputs; the hash-modulo form differs from the
/// stored one.
pub(crate) struct AtermOptions<'a> {
    /// Blank input-addressed output paths and the environment variables named after outputs.
    pub(crate) mask_outputs: bool,
    /// Replace the input derivation paths by these keys (hex hashes), if given.
    pub(crate) input_override: Option<&'a BTreeMap<String, BTreeSet<String>>>,
}

impl Derivation {
    /// The ATerm text CppNix stores in the `.drv` file.
    pub fn to_aterm(&self, store_dir: &StoreDir) -> Result<String, WriteDerivationError> {
        let mut out = String::new();
        self.write_aterm(
            store_dir,
            &AtermOptions {
                mask_outputs: false,
                input_override: None,
            },
            &mut out,
        )?;
        Ok(out)
    }

    pub(crate) fn write_aterm(
        &self,
        store_dir: &StoreDir,
        options: &AtermOptions<'_>,
        out: &mut String,
    ) -> Result<(), WriteDerivationError> {
        self.check_raw_fields()?;
        out.reserve(self.estimated_len());
        out.push_str("Derive([");
        for (i, (name, output)) in self.outputs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('(');
            raw(out, name);
            out.push(',');
            match output {
                DerivationOutput::InputAddressed { path } => {
                    out.push('"');
                    if !options.mask_outputs {
                        store_dir.write_path(path, out);
                    }
                    out.push_str("\",\"\",\"\"");
                }
                DerivationOutput::CaFixed(ca) => {
                    let path = self
                        .fixed_output_path(store_dir, name, ca)
                        .map_err(|source| WriteDerivationError::FixedOutputPath {
                            name: self.name.clone(),
                            output: name.clone(),
                            source,
                        })?;
                    out.push('"');
                    store_dir.write_path(&path, out);
                    out.push_str("\",\"");
                    out.push_str(ca.method.prefix());
                    out.push_str(ca.hash.algo().name());
                    out.push_str("\",\"");
                    out.push_str(&ca.hash.to_base16());
                    out.push('"');
                }
                DerivationOutput::CaFloating { method, algo } => {
                    out.push_str("\"\",\"");
                    out.push_str(method.prefix());
                    out.push_str(algo.name());
                    out.push_str("\",\"\"");
                }
                DerivationOutput::Deferred => out.push_str("\"\",\"\",\"\""),
                DerivationOutput::Impure { method, algo } => {
                    out.push_str("\"\",\"");
                    out.push_str(method.prefix());
                    out.push_str(algo.name());
                    out.push_str("\",\"impure\"");
                }
            }
            out.push(')');
        }
        out.push_str("],[");
        match options.input_override {
            Some(inputs) => {
                for (i, (key, outputs)) in inputs.iter().enumerate() {
                    input_entry(out, i, |out| raw(out, key), outputs);
                }
            }
            None => {
                for (i, (path, outputs)) in self.input_drvs.iter().enumerate() {
                    let write_path = |out: &mut String| {
                        out.push('"');
                        store_dir.write_path(path, out);
                        out.push('"');
                    };
                    input_entry(out, i, write_path, outputs);
                }
            }
        }
        out.push_str("],[");
        for (i, path) in self.input_srcs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            store_dir.write_path(path, out);
            out.push('"');
        }
        out.push_str("],");
        raw(out, &self.system);
        out.push(',');
        escaped(out, &self.builder);
        out.push_str(",[");
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            escaped(out, arg);
        }
        out.push_str("],[");
        for (i, (key, value)) in self.env.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('(');
            escaped(out, key);
            out.push(',');
            if options.mask_outputs && self.outputs.contains_key(key) {
                out.push_str("\"\"");
            } else {
                escaped(out, value);
            }
            out.push(')');
        }
        out.push_str("])");
        Ok(())
    }

    fn estimated_len(&self) -> usize {
        let env: usize = self.env.iter().map(|(k, v)| k.len() + v.len() + 8).sum();
        let args: usize = self.args.iter().map(|a| a.len() + 3).sum();
        256 + env
            + args
            + self.builder.len()
            + 100 * (self.outputs.len() + self.input_drvs.len() + self.input_srcs.len())
    }
}

fn input_entry(
    out: &mut String,
    index: usize,
    write_key: impl FnOnce(&mut String),
    outputs: &BTreeSet<String>,
) {
    if index > 0 {
        out.push(',');
    }
    out.push('(');
    write_key(out);
    out.push_str(",[");
    for (j, name) in outputs.iter().enumerate() {
        if j > 0 {
            out.push(',');
        }
        raw(out, name);
    }
    out.push_str("])");
}

impl Derivation {
    /// Refuses fields that are written raw but hold a quote or backslash.
    fn check_raw_fields(&self) -> Result<(), WriteDerivationError> {
        let bad = |s: &str| s.contains(['"', '\\']);
        let unwritable = |field, value: &str| WriteDerivationError::Unwritable {
            name: self.name.clone(),
            field,
            value: value.to_owned(),
        };
        if bad(&self.system) {
            return Err(unwritable("system", &self.system));
        }
        if let Some(name) = self.outputs.keys().find(|n| bad(n)) {
            return Err(unwritable("output name", name));
        }
        let inputs = self.input_drvs.values().flatten();
        if let Some(name) = inputs.into_iter().find(|n| bad(n)) {
            return Err(unwritable("input output name", name));
        }
        Ok(())
    }
}

/// Writes `s` in quotes without escaping.
fn raw(out: &mut String, s: &str) {
    out.push('"');
    out.push_str(s);
    out.push('"');
}

/// Writes `s` in quotes, escaping `"`, `\`, newline, carriage return and tab.
fn escaped(out: &mut String, s: &str) {
    out.push('"');
    // Most strings need no escaping: two vectorised scans, then one copy.
    let bytes = s.as_bytes();
    if memchr::memchr3(b'"', b'\\', b'\n', bytes).is_none()
        && memchr::memchr2(b'\r', b'\t', bytes).is_none()
    {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let replacement = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        out.push_str(replacement);
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}
