//! The builder's environment as CppNix sets it up: fixed variables (`PATH=/path-not-set`,
//! `HOME=/homeless-shelter`, `NIX_BUILD_TOP=/build`, …), the derivation's own variables,
//! `passAsFile` attributes written to `/build/.attr-<nix32(sha256(name))>`, and structured
//! attributes written to `/build/.attrs.json` and `/build/.attrs.sh`.
//!
//! Everything here is pure: [`BuilderEnv::new`] computes the variables and the files to
//! write into the build directory, which the sandbox then writes.

use std::collections::{BTreeMap, BTreeSet};

use nixkit_derivation::Derivation;
use nixkit_store::{Hash, HashAlgo};

/// The build directory inside the sandbox.
pub const SANDBOX_BUILD_DIR: &str = "/build";

/// Why the environment could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// `__json` is not valid JSON or not an object.
    #[error("derivation '{drv}' has invalid structured attributes: {reason}")]
    BadStructuredAttrs {
        /// The derivation's name.
        drv: String,
        /// What is wrong.
        reason: String,
    },
}

/// The environment and build-directory files of one build.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuilderEnv {
    /// The variables, in the order they are passed.
    pub vars: BTreeMap<String, String>,
    /// Files to create in the build directory: name relative to it, contents.
    pub files: Vec<(String, Vec<u8>)>,
}

/// The parameters of the environment that do not come from the derivation.
#[derive(Debug, Clone)]
pub struct EnvParams<'a> {
    /// The logical store directory (`/nix/store`).
    pub store_dir: &'a str,
    /// `NIX_BUILD_CORES`.
    pub cores: usize,
    /// The output paths by output name (absolute, logical).
    pub outputs: &'a BTreeMap<String, String>,
}

/// The name of the file `passAsFile` attribute `name` is written to.
pub fn pass_as_file_name(name: &str) -> String {
    format!(
        ".attr-{}",
        Hash::digest(HashAlgo::Sha256, name.as_bytes()).to_nix32()
    )
}

impl BuilderEnv {
    /// The environment CppNix gives the builder of `drv`.
    pub fn new(drv: &Derivation, params: &EnvParams<'_>) -> Result<Self, EnvError> {
        let mut vars = BTreeMap::new();
        let mut files = Vec::new();
        let set = |vars: &mut BTreeMap<String, String>, k: &str, v: &str| {
            vars.insert(k.to_owned(), v.to_owned());
        };
        set(&mut vars, "PATH", "/path-not-set");
        set(&mut vars, "HOME", "/homeless-shelter");
        set(&mut vars, "NIX_STORE", params.store_dir);
        set(&mut vars, "NIX_BUILD_CORES", &params.cores.to_string());
        if let Some(json) = drv.structured_attrs() {
            let (json_text, sh) = structured_attrs_files(drv, json, params.outputs)?;
            files.push((".attrs.json".to_owned(), json_text.into_bytes()));
            files.push((".attrs.sh".to_owned(), sh.into_bytes()));
            set(&mut vars, "NIX_ATTRS_JSON_FILE", "/build/.attrs.json");
            set(&mut vars, "NIX_ATTRS_SH_FILE", "/build/.attrs.sh");
        } else {
            let pass_as_file: BTreeSet<&str> = drv
                .env
                .get("passAsFile")
                .map(|v| v.split_ascii_whitespace().collect())
                .unwrap_or_default();
            for (k, v) in &drv.env {
                if pass_as_file.contains(k.as_str()) {
                    let name = pass_as_file_name(k);
                    vars.insert(format!("{k}Path"), format!("{SANDBOX_BUILD_DIR}/{name}"));
                    files.push((name, v.clone().into_bytes()));
                } else {
                    vars.insert(k.clone(), v.clone());
                }
            }
        }
        for k in ["NIX_BUILD_TOP", "TMPDIR", "TEMPDIR", "TMP", "TEMP", "PWD"] {
            set(&mut vars, k, SANDBOX_BUILD_DIR);
        }
        if drv.is_fixed_output() {
            set(&mut vars, "NIX_OUTPUT_CHECKED", "1");
        }
        set(&mut vars, "NIX_LOG_FD", "2");
        set(&mut vars, "TERM", "xterm-256color");
        Ok(Self { vars, files })
    }
}

/// CppNix's shell quoting: single quotes, with `'` written as `'\''`.
fn shell_escape(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn is_shell_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A scalar as `.attrs.sh` writes it, or `None` for a value it skips.
fn simple_value(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(shell_escape(s)),
        serde_json::Value::Number(n) => n.as_i64().map(|i| i.to_string()).or_else(|| {
            n.as_u64()
                .map(|u| u.to_string())
                .or_else(|| n.as_f64().map(|f| format!("{f:.6}")))
        }),
        serde_json::Value::Bool(b) => Some(if *b { "1" } else { "" }.to_owned()),
        serde_json::Value::Null => Some(String::new()),
        _ => None,
    }
}

/// The `.attrs.json` and `.attrs.sh` texts: `outputs` becomes a map from output name to path.
fn structured_attrs_files(
    drv: &Derivation,
    json: &str,
    outputs: &BTreeMap<String, String>,
) -> Result<(String, String), EnvError> {
    let bad = |reason: String| EnvError::BadStructuredAttrs {
        drv: drv.name.clone(),
        reason,
    };
    let mut value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| bad("not a JSON object".to_owned()))?;
    let outs: serde_json::Map<String, serde_json::Value> = outputs
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    obj.insert("outputs".to_owned(), serde_json::Value::Object(outs));
    let mut sh = String::new();
    for (key, v) in obj.iter() {
        if !is_shell_name(key) {
            continue;
        }
        if let Some(s) = simple_value(v) {
            sh.push_str(&format!("declare {key}={s}\n"));
        } else if let serde_json::Value::Array(items) = v {
            let parts: Option<Vec<String>> = items.iter().map(simple_value).collect();
            if let Some(parts) = parts {
                let body: String = parts.iter().map(|p| format!("{p} ")).collect();
                sh.push_str(&format!("declare -a {key}=({body})\n"));
            }
        } else if let serde_json::Value::Object(map) = v {
            let parts: Option<Vec<String>> = map
                .iter()
                .map(|(k, v)| simple_value(v).map(|s| format!("[{}]={s} ", shell_escape(k))))
                .collect();
            if let Some(parts) = parts {
                sh.push_str(&format!("declare -A {key}=({})\n", parts.concat()));
            }
        }
    }
    let text = serde_json::to_string(&value).map_err(|e| bad(e.to_string()))?;
    Ok((text, sh))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn params(outputs: &BTreeMap<String, String>) -> EnvParams<'_> {
        EnvParams {
            store_dir: "/nix/store",
            cores: 2,
            outputs,
        }
    }

    #[test]
    fn pass_as_file_name_matches_cppnix() {
        // CppNix's tests/functional/pass-as-file.sh expects this name for attribute `foo`.
        assert_eq!(
            pass_as_file_name("foo"),
            ".attr-1bp7cri8hplaz6hbz0v4f0nl44rl84q1sg25kgwqzipzd1mv89ic"
        );
    }

    #[test]
    fn plain_environment() {
        let mut drv = Derivation::default();
        drv.env.insert("out".into(), "/nix/store/x-a".into());
        drv.env.insert("foo".into(), "xyzzy".into());
        drv.env.insert("passAsFile".into(), "foo".into());
        drv.env.insert("PATH".into(), "/mine".into());
        let outs = BTreeMap::new();
        let env = BuilderEnv::new(&drv, &params(&outs)).unwrap();
        assert_eq!(env.vars["PATH"], "/mine");
        assert_eq!(env.vars["HOME"], "/homeless-shelter");
        assert_eq!(env.vars["NIX_BUILD_TOP"], "/build");
        assert_eq!(env.vars["NIX_LOG_FD"], "2");
        assert!(!env.vars.contains_key("foo"));
        assert_eq!(
            env.vars["fooPath"],
            "/build/.attr-1bp7cri8hplaz6hbz0v4f0nl44rl84q1sg25kgwqzipzd1mv89ic"
        );
        assert_eq!(env.files[0].1, b"xyzzy");
    }

    #[test]
    fn structured_attrs() {
        let mut drv = Derivation::default();
        drv.env.insert(
            "__json".into(),
            r#"{"a":"it's","n":3,"b":true,"l":["x","y"],"m":{"k":"v"},"bad-name":1,"outputs":["out"]}"#
                .into(),
        );
        let outs: BTreeMap<String, String> =
            [("out".to_owned(), "/nix/store/x-a".to_owned())].into();
        let env = BuilderEnv::new(&drv, &params(&outs)).unwrap();
        assert_eq!(env.vars["NIX_ATTRS_SH_FILE"], "/build/.attrs.sh");
        assert!(!env.vars.contains_key("__json"));
        let sh = String::from_utf8(env.files[1].1.clone()).unwrap();
        assert!(sh.contains("declare a='it'\\''s'\n"), "{sh}");
        assert!(sh.contains("declare n=3\n"));
        assert!(sh.contains("declare b=1\n"));
        assert!(sh.contains("declare -a l=('x' 'y' )\n"));
        assert!(sh.contains("declare -A m=(['k']='v' )\n"));
        assert!(sh.contains("declare -A outputs=(['out']='/nix/store/x-a' )\n"));
        assert!(!sh.contains("bad-name"));
        let json = String::from_utf8(env.files[0].1.clone()).unwrap();
        assert!(
            json.contains(r#""outputs":{"out":"/nix/store/x-a"}"#),
            "{json}"
        );
    }
}
