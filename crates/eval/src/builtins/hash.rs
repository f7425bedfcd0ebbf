//! Hashing: `hashString`, `hashFile`, `convertHash` (base16, nix32, base64
//! and SRI encodings of md5, sha1, sha256, sha512).

use md5::Md5;
use nixkit_syntax::Symbol;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::builtins::{primop, Args};
use crate::error::{ErrorKind, EvalError, EvalResult};
use crate::eval::EvalState;
use crate::source::Pos;
use crate::store_path::{hex, nix32, nix32_decode};
use crate::value::{PrimOp, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[
    primop!("hashString", 2, hash_string),
    primop!("hashFile", 2, hash_file),
    primop!("convertHash", 1, convert_hash),
];

/// A supported hash algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HashAlgo {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl HashAlgo {
    pub(crate) fn parse(name: &str) -> Option<HashAlgo> {
        Some(match name {
            "md5" => HashAlgo::Md5,
            "sha1" => HashAlgo::Sha1,
            "sha256" => HashAlgo::Sha256,
            "sha512" => HashAlgo::Sha512,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            HashAlgo::Md5 => "md5",
            HashAlgo::Sha1 => "sha1",
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Sha512 => "sha512",
        }
    }

    fn size(self) -> usize {
        match self {
            HashAlgo::Md5 => 16,
            HashAlgo::Sha1 => 20,
            HashAlgo::Sha256 => 32,
            HashAlgo::Sha512 => 64,
        }
    }

    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlgo::Md5 => Md5::digest(data).to_vec(),
            HashAlgo::Sha1 => Sha1::digest(data).to_vec(),
            HashAlgo::Sha256 => Sha256::digest(data).to_vec(),
            HashAlgo::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

fn unknown_algo(name: &str) -> EvalError {
    EvalError::new(
        ErrorKind::Usage,
        format!(
        "unknown hash algorithm '{name}', expect 'blake3', 'md5', 'sha1', 'sha256', or 'sha512'"
    ),
    )
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        if c == b'=' {
            break;
        }
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn hash_string(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "hashString", pos);
    let algo_name = args.string(s, 0)?;
    let algo = HashAlgo::parse(algo_name.as_str())
        .ok_or_else(|| unknown_algo(algo_name.as_str()).at(pos))?;
    let text = args.string(s, 1)?;
    Ok(Value::string(hex(&algo.digest(&text.as_bytes()))))
}

fn hash_file(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "hashFile", pos);
    let algo_name = args.string(s, 0)?;
    let algo = HashAlgo::parse(algo_name.as_str())
        .ok_or_else(|| unknown_algo(algo_name.as_str()).at(pos))?;
    let path = s.realise_path(&a[1], pos)?;
    let data = s.read_file_bytes(&path, pos)?;
    Ok(Value::string(hex(&algo.digest(&data))))
}

fn decode_hash(text: &str, algo: HashAlgo) -> Option<Vec<u8>> {
    let size = algo.size();
    if text.len() == size * 2 {
        let mut out = Vec::with_capacity(size);
        for i in (0..text.len()).step_by(2) {
            out.push(u8::from_str_radix(text.get(i..i + 2)?, 16).ok()?);
        }
        return Some(out);
    }
    if text.len() == (size * 8).div_ceil(5) {
        return nix32_decode(text, size);
    }
    let decoded = base64_decode(text)?;
    (decoded.len() == size).then_some(decoded)
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
        .filter(|(p, _)| HashAlgo::parse(p).is_some())
    {
        (HashAlgo::parse(prefix), rest.to_string())
    } else if let Some((prefix, rest)) = hash
        .split_once(':')
        .filter(|(p, _)| HashAlgo::parse(p).is_some())
    {
        (HashAlgo::parse(prefix), rest.to_string())
    } else {
        let name = algo_attr.clone().ok_or_else(|| {
            EvalError::eval(format!("hash '{hash}' does not include a type, nor is the type otherwise known from context")).at(pos)
        })?;
        (
            Some(HashAlgo::parse(&name).ok_or_else(|| unknown_algo(&name).at(pos))?),
            hash.clone(),
        )
    };
    let algo = algo.ok_or_else(|| EvalError::eval(format!("invalid hash '{hash}'")).at(pos))?;
    let bytes = decode_hash(&body, algo)
        .ok_or_else(|| EvalError::eval(format!("invalid hash '{hash}'")).at(pos))?;
    if format == "base32" {
        s.message("warning: \"base32\" is a deprecated alias for hash format \"nix32\".");
    }
    let out = match format.as_str() {
        "base16" => hex(&bytes),
        "nix32" | "base32" => nix32(&bytes),
        "base64" => base64_encode(&bytes),
        "sri" => format!("{}-{}", algo.name(), base64_encode(&bytes)),
        other => {
            let msg = format!(
                "unknown hash format '{other}', expect 'base16', 'base32', 'base64', or 'sri'"
            );
            return Err(EvalError::new(ErrorKind::Usage, msg).at(pos));
        }
    };
    Ok(Value::string(out))
}
