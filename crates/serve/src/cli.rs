//! The `nixkit serve` command line: `--store SPEC` (a path, `local?root=DIR`, `auto`; else
//! `NIXKIT_STORE`), `--listen ADDR` (default `127.0.0.1:5000`; port 0 picks a free one),
//! `--sign-key FILE` (a secret key as `nix-store --generate-binary-cache-key` writes),
//! `--priority N` (default 30, as nix-serve), `--upload-token TOKEN` (accept `PUT` uploads
//! from clients with this bearer token or basic-auth password), `--max-upload-size BYTES`
//! (default 16 GiB), `--want-mass-query 0|1` (`WantMassQuery` in `nix-cache-info`, default 1),
//! `--access-log` (a line per request on standard error: method, path, status). Prints `listening on http://ADDR` on standard
//! error once bound, then serves until killed.

use std::io::Write;

use nixkit_store::binary_cache::SecretKey;
use nixkit_store::local::StoreConfig;
use nixkit_store::StoreDir;

use crate::{ServeConfig, Server};

/// The usage text.
pub const USAGE: &str = "usage: nixkit serve [--store SPEC] [--listen ADDR] [--sign-key FILE] \
[--priority N] \
[--upload-token TOKEN] [--max-upload-size BYTES] [--want-mass-query 0|1] [--access-log]";

fn parse(args: &[String]) -> Result<Option<(String, ServeConfig)>, String> {
    let mut store_spec = None;
    let mut listen = "127.0.0.1:5000".to_owned();
    let mut key_file = None;
    let mut priority = 30;
    let mut upload_token = None;
    let mut max_upload_size = crate::DEFAULT_MAX_UPLOAD_SIZE;
    let mut want_mass_query = true;
    let mut access_log = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("option '{arg}' needs a value"))
        };
        match arg.as_str() {
            "--store" => store_spec = Some(value()?),
            "--listen" | "-l" => listen = value()?,
            "--sign-key" | "--secret-key-file" => key_file = Some(value()?),
            "--priority" => {
                let v = value()?;
                priority = v
                    .parse()
                    .map_err(|_| format!("invalid priority '{v}': expected a number"))?;
            }
            "--upload-token" => upload_token = Some(value()?),
            "--max-upload-size" => {
                let v = value()?;
                max_upload_size = v
                    .parse()
                    .map_err(|_| format!("invalid size '{v}': expected a number of bytes"))?;
            }
            "--want-mass-query" => {
                want_mass_query = match value()?.as_str() {
                    "1" | "true" => true,
                    "0" | "false" => false,
                    v => return Err(format!("invalid --want-mass-query '{v}': expected 0 or 1")),
                }
            }
            "--access-log" => access_log = true,
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    let dir = StoreDir::default();
    let store = match &store_spec {
        Some(spec) => StoreConfig::from_spec(spec, dir),
        None => StoreConfig::from_env(dir),
    }
    .map_err(|e| e.to_string())?;
    let sign_key = match key_file {
        Some(file) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("reading secret key '{file}': {e}"))?;
            Some(SecretKey::parse(text.trim()).map_err(|e| format!("secret key '{file}': {e}"))?)
        }
        None => None,
    };
    let mut config = ServeConfig::new(store);
    config.sign_key = sign_key;
    config.priority = priority;
    config.upload_token = upload_token;
    config.max_upload_size = max_upload_size;
    config.want_mass_query = want_mass_query;
    config.access_log = access_log;
    Ok(Some((listen, config)))
}

/// Runs `nixkit serve` with `args` (after the command name); returns the exit status.
pub fn main(args: &[String]) -> i32 {
    let mut err = std::io::stderr();
    let (listen, config) = match parse(args) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            return 0;
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return 1;
        }
    };
    let server = match Server::bind(&listen, config) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return 1;
        }
    };
    match server.local_addr() {
        Ok(addr) => {
            let _ = writeln!(err, "listening on http://{addr}");
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return 1;
        }
    }
    match server.run() {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            1
        }
    }
}
