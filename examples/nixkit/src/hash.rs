//! `nixkit hash` / `nix-hash`: argument handling only; the work is in `nixkit_store::hash_path`.
//!
//! Hashing: `[--flat] [--base16|--base32|--base64|--sri] [--truncate] [--type ALGO] PATH…`.
//! Converting: `--to-base16|--to-base32|--to-base64|--to-sri [--type ALGO] HASH…`.
//! The algorithm defaults to md5, as in CppNix.

use std::ffi::OsString;
use std::path::Path;

use nixkit_store::hash_path::{convert_hash, format_hash, hash_path};
use nixkit_store::{FileIngestionMethod, HashAlgo, HashEncoding};

const USAGE: &str =
    "usage: nix-hash [--flat] [--base16|--base32|--base64|--sri] [--truncate] [--type ALGO] PATH...
       nix-hash --to-base16|--to-base32|--to-base64|--to-sri [--type ALGO] HASH...";

enum Operation {
    Hash,
    Convert(HashEncoding),
}

/// Runs `nix-hash` with `args` (the arguments after the command name); returns the exit code.
pub(crate) fn main(args: Vec<OsString>) -> i32 {
    let mut algo = HashAlgo::Md5;
    let mut method = FileIngestionMethod::Recursive;
    let mut encoding = HashEncoding::Base16;
    let mut truncate = false;
    let mut operation = Operation::Hash;
    let mut operands = Vec::new();

    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        // Flags are text; an operand may be any file name.
        let Some(flag) = arg.to_str() else {
            operands.push(arg);
            continue;
        };
        match flag {
            "--flat" => method = FileIngestionMethod::Flat,
            "--base16" => encoding = HashEncoding::Base16,
            "--base32" => encoding = HashEncoding::Nix32,
            "--base64" => encoding = HashEncoding::Base64,
            "--sri" => encoding = HashEncoding::Sri,
            "--truncate" => truncate = true,
            "--to-base16" => operation = Operation::Convert(HashEncoding::Base16),
            "--to-base32" => operation = Operation::Convert(HashEncoding::Nix32),
            "--to-base64" => operation = Operation::Convert(HashEncoding::Base64),
            "--to-sri" => operation = Operation::Convert(HashEncoding::Sri),
            "--type" => {
                let Some(name) = iter.next() else {
                    eprintln!("error: flag '--type' requires 1 argument");
                    return 1;
                };
                match crate::arg_text(&name).parse() {
                    Ok(a) => algo = a,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return 1;
                    }
                }
            }
            "--help" | "-h" => {
                return match crate::output::line(USAGE) {
                    Ok(()) => 0,
                    Err(e) => crate::output::write_failed(&e),
                };
            }
            "--" => operands.extend(iter.by_ref()),
            flag if flag.starts_with("--") => {
                eprintln!("error: unrecognised flag '{flag}'\n{USAGE}");
                return 1;
            }
            _ => operands.push(arg),
        }
    }

    for operand in &operands {
        let line = match operation {
            Operation::Hash => hash_path(Path::new(operand), algo, method)
                .map(|(hash, _)| format_hash(&hash, encoding, truncate))
                .map_err(|e| e.to_string()),
            Operation::Convert(to) => {
                convert_hash(&crate::arg_text(operand), algo, to).map_err(|e| e.to_string())
            }
        };
        match line {
            Ok(line) => {
                if let Err(e) = crate::output::line(line) {
                    return crate::output::write_failed(&e);
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        }
    }
    0
}
