//! Store path computation: nix32, `makeStorePath`, and NAR hashing of a file
//! system tree read through [`EvalIo`].

use sha2::{Digest, Sha256};

use crate::io::{EvalIo, FileType};

/// Why a store path could not be computed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StorePathError {
    /// The name has characters or a length a store path cannot have.
    #[error("invalid store path name '{0}'")]
    InvalidName(String),
    /// Reading the tree failed.
    #[error("{0}")]
    Io(String),
}

/// SHA-256 of bytes.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

const NIX32_ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Nix's base-32 encoding.
pub(crate) fn nix32(bytes: &[u8]) -> String {
    let len = (bytes.len() * 8).div_ceil(5);
    let mut s = String::with_capacity(len);
    for n in (0..len).rev() {
        let b = n * 5;
        let i = b / 8;
        let j = b % 8;
        let lo = u32::from(bytes[i]) >> j;
        let hi = if i + 1 < bytes.len() { u32::from(bytes[i + 1]) << (8 - j) } else { 0 };
        let c = ((lo | hi) & 0x1f) as usize;
        s.push(char::from(NIX32_ALPHABET[c]));
    }
    s
}

/// Decodes Nix's base-32.
pub(crate) fn nix32_decode(s: &str, len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    for (n, c) in s.bytes().rev().enumerate() {
        let digit = NIX32_ALPHABET.iter().position(|&a| a == c)? as u32;
        let b = n * 5;
        let i = b / 8;
        let j = b % 8;
        *out.get_mut(i)? |= (digit << j) as u8;
        let carry = (digit << j) >> 8;
        if i + 1 < len {
            out[i + 1] |= carry as u8;
        } else if carry != 0 {
            return None;
        }
    }
    Some(out)
}

/// Checks a store path name.
pub(crate) fn check_name(name: &str) -> Result<(), StorePathError> {
    let ok = !name.is_empty()
        && name.len() <= 211
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-._?=".contains(&b))
        && name != "."
        && name != ".."
        && !name.starts_with(".-")
        && !name.starts_with("..-");
    if ok {
        Ok(())
    } else {
        Err(StorePathError::InvalidName(name.to_string()))
    }
}

/// `makeStorePath(type, hash, name)`.
pub(crate) fn make_store_path(store_dir: &str, ty: &str, hash: &[u8; 32], name: &str) -> Result<String, StorePathError> {
    check_name(name)?;
    let s = format!("{ty}:sha256:{}:{store_dir}:{name}", hex(hash));
    let full = sha256(s.as_bytes());
    let mut folded = [0u8; 20];
    for (i, b) in full.iter().enumerate() {
        folded[i % 20] ^= b;
    }
    Ok(format!("{store_dir}/{}-{name}", nix32(&folded)))
}

struct NarWriter {
    hasher: Sha256,
}

impl NarWriter {
    fn bytes(&mut self, data: &[u8]) {
        self.hasher.update((data.len() as u64).to_le_bytes());
        self.hasher.update(data);
        let pad = (8 - data.len() % 8) % 8;
        self.hasher.update(&[0u8; 8][..pad]);
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
}

type Filter<'a> = Option<&'a mut dyn FnMut(&str, FileType) -> Result<bool, String>>;

fn nar_node(w: &mut NarWriter, io: &dyn EvalIo, path: &str, filter: &mut Filter<'_>) -> Result<(), StorePathError> {
    let err = |e: std::io::Error| StorePathError::Io(format!("getting status of '{path}': {e}"));
    let ft = io.file_type(path, false).map_err(err)?;
    w.str("(");
    w.str("type");
    match ft {
        FileType::Regular => {
            w.str("regular");
            if io.is_executable(path).map_err(err)? {
                w.str("executable");
                w.str("");
            }
            w.str("contents");
            let data = io.read_file(path).map_err(err)?;
            w.bytes(&data);
        }
        FileType::Symlink => {
            w.str("symlink");
            w.str("target");
            let t = io.read_link(path).map_err(err)?;
            w.str(&t);
        }
        FileType::Directory => {
            w.str("directory");
            let mut entries = io.read_dir(path).map_err(err)?;
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, ty) in entries {
                let child = if path.ends_with('/') { format!("{path}{name}") } else { format!("{path}/{name}") };
                if let Some(f) = filter.as_mut() {
                    if !f(&child, ty).map_err(StorePathError::Io)? {
                        continue;
                    }
                }
                w.str("entry");
                w.str("(");
                w.str("name");
                w.str(&name);
                w.str("node");
                nar_node(w, io, &child, filter)?;
                w.str(")");
            }
        }
        FileType::Unknown => return Err(StorePathError::Io(format!("file '{path}' has an unsupported type"))),
    }
    w.str(")");
    Ok(())
}

/// The SHA-256 of the NAR serialisation of `path`.
pub(crate) fn nar_sha256(io: &dyn EvalIo, path: &str, mut filter: Filter<'_>) -> Result<[u8; 32], StorePathError> {
    let mut w = NarWriter { hasher: Sha256::new() };
    w.str("nix-archive-1");
    nar_node(&mut w, io, path, &mut filter)?;
    Ok(w.hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nix32_round_trips() {
        let bytes: Vec<u8> = (0u8..20).collect();
        let s = nix32(&bytes);
        assert_eq!(s.len(), 32);
        assert_eq!(nix32_decode(&s, 20), Some(bytes));
    }
}
