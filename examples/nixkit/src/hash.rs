//! `nixkit hash` / `nix-hash`: argument handling only; the work is in `nixkit_store::hash_path`.
//!
//! Hashing: `[--flat] [--base16|--base32|--base64|--sri] [--truncate] [--type ALGO] PATH…`.
//! Converting: `--to-base16|--to-base32|--to-base64|--to-sri [--type ALGO] HASH…`.
//! The algorithm defaults to md5, as in CppNix.

use std::io::Write;
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
pub(crate) fn main(args: Vec<String>) -> i32 {
    let mut algo = HashAlgo::Md5;
    let mut method = FileIngestionMethod::Recursive;
    let mut encoding = HashEncoding::Base16;
    let mut truncate = false;
    let mut operation = Operation::Hash;
    let mut operands = Vec::new();

    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
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
                match name.parse() {
                    Ok(a) => algo = a,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return 1;
                    }
                }
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return 0;
            }
            "--" => operands.extend(iter.by_ref()),
            flag if flag.starts_with("--") => {
                eprintln!("error: unrecognised flag '{flag}'\n{USAGE}");
                return 1;
            }
            _ => operands.push(arg),
        }
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for operand in &operands {
        let line = match operation {
            Operation::Hash => hash_path(Path::new(operand), algo, method)
                .map(|(hash, _)| format_hash(&hash, encoding, truncate))
                .map_err(|e| e.to_string()),
            Operation::Convert(to) => convert_hash(operand, algo, to).map_err(|e| e.to_string()),
        };
        match line {
            Ok(line) => {
                if writeln!(out, "{line}").is_err() {
                    return 1;
                }
            }
            Err(e) => {
                let _ = out.flush();
                eprintln!("error: {e}");
                return 1;
            }
        }
    }
    0
}
