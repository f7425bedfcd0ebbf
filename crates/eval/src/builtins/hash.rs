//! Hashing: `hashString`, `hashFile`, `convertHash` (base16, nix32, base64
//! and SRI encodings of md5, sha1, sha256, sha512).

use nixkit_store::{Hash, HashAlgo, HashEncoding};
use nixkit_syntax::Symbol;

use crate::builtins::{primop, Args};
use crate::error::{ErrorKind, EvalError, EvalResult};
use crate::eval::EvalState;
use crate::source::Pos;
use crate::value::{PrimOp, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[
    primop!("hashString", 2, hash_string),
    primop!("hashFile", 2, hash_file),
    primop!("convertHash", 1, convert_hash),
];

/// Parses a hash algorithm name as the hashing builtins accept it.
fn parse_algo(name: &str) -> Option<HashAlgo> {
    name.parse().ok()
}

fn unknown_algo(name: &str) -> EvalError {
    EvalError::new(
        ErrorKind::Usage,
        format!(
        "unknown hash algorithm '{name}', expect 'blake3', 'md5', 'sha1', 'sha256', or 'sha512'"
    ),
    )
}

fn hash_string(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "hashString", pos);
    let algo_name = args.string(s, 0)?;
    let algo =
        parse_algo(algo_name.as_str()).ok_or_else(|| unknown_algo(algo_name.as_str()).at(pos))?;
    let text = args.string(s, 1)?;
    Ok(Value::string(
        Hash::digest(algo, text.as_str().as_bytes()).to_base16(),
    ))
}

fn hash_file(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "hashFile", pos);
    let algo_name = args.string(s, 0)?;
    let algo =
        parse_algo(algo_name.as_str()).ok_or_else(|| unknown_algo(algo_name.as_str()).at(pos))?;
    let path = s.realise_path(&a[1], pos)?;
    let data = s.read_file_bytes(&path, pos)?;
    Ok(Value::string(Hash::digest(algo, &data).to_base16()))
}

fn convert_hash(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let attrs = Args::new(a, "convertHash", pos).attrs(s, 0)?;
    let get = |s: &mut EvalState, name: &str| -> EvalResult<Option<String>> {
        match attrs.get(Symbol::intern(name)) {
            Some(v) => Ok(Some(s.force_string(v, pos)?.as_str().to_string())),
            None => Ok(None),
        }
    };
    let hash =
        get(s, "hash")?.ok_or_else(|| EvalError::eval("attribute 'hash' missing").at(pos))?;
    let algo_attr = get(s, "hashAlgo")?;
    let format = get(s, "toHashFormat")?
        .ok_or_else(|| EvalError::eval("attribute 'toHashFormat' missing").at(pos))?;
    let (algo, body) = if let Some((prefix, rest)) = hash
        .split_once('-')
        .filter(|(p, _)| parse_algo(p).is_some())
    {
        (parse_algo(prefix), rest.to_string())
    } else if let Some((prefix, rest)) = hash
        .split_once(':')
        .filter(|(p, _)| parse_algo(p).is_some())
    {
        (parse_algo(prefix), rest.to_string())
    } else {
        let name = algo_attr.clone().ok_or_else(|| {
            EvalError::eval(format!("hash '{hash}' does not include a type, nor is the type otherwise known from context")).at(pos)
        })?;
        (
            Some(parse_algo(&name).ok_or_else(|| unknown_algo(&name).at(pos))?),
            hash.clone(),
        )
    };
    let algo = algo.ok_or_else(|| EvalError::eval(format!("invalid hash '{hash}'")).at(pos))?;
    let parsed = Hash::parse_bare(&body, algo)
        .map_err(|_| EvalError::eval(format!("invalid hash '{hash}'")).at(pos))?;
    if format == "base32" {
        s.message("warning: \"base32\" is a deprecated alias for hash format \"nix32\".");
    }
    let out = match format.as_str() {
        "base16" => parsed.encode(HashEncoding::Base16, false),
        "nix32" | "base32" => parsed.encode(HashEncoding::Nix32, false),
        "base64" => parsed.encode(HashEncoding::Base64, false),
        "sri" => parsed.encode(HashEncoding::Sri, true),
        other => {
            let msg = format!(
                "unknown hash format '{other}', expect 'base16', 'base32', 'base64', or 'sri'"
            );
            return Err(EvalError::new(ErrorKind::Usage, msg).at(pos));
        }
    };
    Ok(Value::string(out))
}
