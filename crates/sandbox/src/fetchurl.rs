//! `builtin:fetchurl`, run in-process rather than in a sandbox (it is our own code and
//! fixed-output, so its result is verified by hash): copies a `file://` URL to `$out`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nixkit_derivation::Derivation;
use nixkit_store::{StoreDir, StorePath};

use crate::build::BuildError;
use crate::layout::BuildDir;

/// Decodes `%XX` escapes of a URL path.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Runs built-in builder `name` for `drv`, leaving its output in `dir`.
pub(crate) fn run_builtin(
    name: &str,
    printed_drv: &str,
    drv: &Derivation,
    store_dir: &StoreDir,
    dir: &BuildDir,
    outputs: &BTreeMap<String, StorePath>,
) -> Result<(), BuildError> {
    if name != "fetchurl" {
        return Err(BuildError::UnknownBuiltin(format!("builtin:{name}")));
    }
    let fail = |reason: String| BuildError::Fetch {
        drv: printed_drv.to_owned(),
        reason,
    };
    if !drv.is_fixed_output() {
        return Err(fail(
            "builtin:fetchurl requires a fixed-output derivation".into(),
        ));
    }
    let url = drv
        .env
        .get("url")
        .ok_or_else(|| fail("no 'url' attribute".into()))?;
    if drv.env.get("unpack").is_some_and(|v| v == "1") {
        return Err(fail("'unpack' is not supported".into()));
    }
    let Some(path) = url.strip_prefix("file://") else {
        return Err(fail(format!(
            "unsupported URL '{url}' (only file:// URLs are supported)"
        )));
    };
    let path: std::ffi::OsString = std::os::unix::ffi::OsStringExt::from_vec(percent_decode(path));
    let data = fs::read(Path::new(&path)).map_err(|e| fail(format!("reading '{url}': {e}")))?;
    let out = outputs
        .get("out")
        .ok_or_else(|| fail("no 'out' output".into()))?;
    let host = dir.host_path(&store_dir.print_path(out));
    if let Some(parent) = host.parent() {
        fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
    }
    fs::write(&host, data).map_err(|e| fail(e.to_string()))?;
    let exec = drv.env.get("executable").is_some_and(|v| v == "1");
    fs::set_permissions(
        &host,
        fs::Permissions::from_mode(if exec { 0o755 } else { 0o644 }),
    )
    .map_err(|e| fail(e.to_string()))?;
    Ok(())
}
