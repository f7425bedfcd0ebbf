//! The `.narinfo` format: `Key: value` lines describing one store path in a binary cache
//! (StorePath, URL, Compression, FileHash, FileSize, NarHash, NarSize, References, Deriver,
//! Sig, CA), and the signed fingerprint `1;<path>;<narHash>;<narSize>;<refs>`.

use std::collections::BTreeSet;

use super::signing::{PublicKey, SecretKey};
use crate::{ContentAddress, Hash, HashAlgo, HashEncoding, PathInfo, StoreDir, StorePath};

/// A parsed narinfo: the path's metadata plus where and how its NAR is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NarInfo {
    /// The path's metadata (`registration_time` and `ultimate` are not part of the format).
    pub info: PathInfo,
    /// The NAR file, relative to the cache (`nar/<filehash>.nar.xz`).
    pub url: String,
    /// The `Compression` value (`bzip2` if absent, as CppNix assumes).
    pub compression: String,
    /// The hash of the (compressed) NAR file.
    pub file_hash: Option<Hash>,
    /// The size of the (compressed) NAR file.
    pub file_size: Option<u64>,
}

/// Why a narinfo could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NarInfoError {
    /// A line is not `Key: value`.
    #[error("narinfo line {line}: expected 'Key: value'")]
    BadLine {
        /// 1-based line number.
        line: usize,
    },
    /// A field's value is invalid.
    #[error("narinfo field {field}: invalid value '{value}'")]
    BadValue {
        /// The field.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// A required field is missing.
    #[error("narinfo is missing the required field {0}")]
    Missing(&'static str),
    /// The narinfo is not text.
    #[error("narinfo is not valid UTF-8")]
    NotUtf8,
    /// The `URL` field does not name a file inside the cache.
    #[error("narinfo URL '{0}' is not a relative path inside the binary cache")]
    UnsafeUrl(String),
}

/// True if `url` names a file inside the cache: a relative path of non-empty components,
/// none `.` or `..`, with no scheme (`:`), query, fragment, backslash or NUL. A narinfo
/// comes from the cache server, which is not trusted with the local file system.
pub fn is_safe_nar_url(url: &str) -> bool {
    !url.is_empty()
        && !url.contains([':', '?', '#', '\\', '\0'])
        && url
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

fn bad(field: &'static str, value: &str) -> NarInfoError {
    NarInfoError::BadValue {
        field,
        value: value.to_owned(),
    }
}

impl NarInfo {
    /// Parses narinfo text for a cache whose store directory is `store_dir`.
    pub fn parse(store_dir: &StoreDir, text: &str) -> Result<Self, NarInfoError> {
        let (mut path, mut url, mut compression) = (None, None, None);
        let (mut file_hash, mut file_size, mut nar_hash, mut nar_size) = (None, None, None, None);
        let (mut refs, mut deriver, mut sigs, mut ca) = (Vec::new(), None, BTreeSet::new(), None);
        for (i, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let (key, value) = line
                .split_once(": ")
                .ok_or(NarInfoError::BadLine { line: i + 1 })?;
            // No field holds control characters; a carriage return left over after the
            // line ending would also not survive being written and read back.
            if value.chars().any(char::is_control) {
                return Err(NarInfoError::BadLine { line: i + 1 });
            }
            match key {
                "StorePath" => {
                    path = Some(
                        store_dir
                            .parse_path(value)
                            .map_err(|_| bad("StorePath", value))?,
                    )
                }
                "URL" => {
                    if !is_safe_nar_url(value) {
                        return Err(NarInfoError::UnsafeUrl(value.to_owned()));
                    }
                    url = Some(value.to_owned());
                }
                "Compression" => compression = Some(value.to_owned()),
                "FileHash" => {
                    file_hash =
                        Some(Hash::parse_with_algo(value).map_err(|_| bad("FileHash", value))?)
                }
                "FileSize" => {
                    file_size = Some(value.parse::<u64>().map_err(|_| bad("FileSize", value))?)
                }
                "NarHash" => {
                    let h = Hash::parse_with_algo(value).map_err(|_| bad("NarHash", value))?;
                    if h.algo() != HashAlgo::Sha256 {
                        return Err(bad("NarHash", value));
                    }
                    nar_hash = Some(h);
                }
                "NarSize" => {
                    nar_size = Some(value.parse::<u64>().map_err(|_| bad("NarSize", value))?)
                }
                "References" => {
                    for r in value.split(' ').filter(|r| !r.is_empty()) {
                        refs.push(StorePath::from_base_name(r).map_err(|_| bad("References", r))?);
                    }
                }
                "Deriver" if value != "unknown-deriver" => {
                    deriver =
                        Some(StorePath::from_base_name(value).map_err(|_| bad("Deriver", value))?)
                }
                "Sig" => {
                    sigs.insert(value.to_owned());
                }
                "CA" => ca = Some(ContentAddress::parse(value).map_err(|_| bad("CA", value))?),
                // Unknown fields (System, Deriver: unknown-deriver, …) are ignored as CppNix does.
                _ => {}
            }
        }
        let path = path.ok_or(NarInfoError::Missing("StorePath"))?;
        let url = url.ok_or(NarInfoError::Missing("URL"))?;
        let nar_hash = nar_hash.ok_or(NarInfoError::Missing("NarHash"))?;
        let nar_size = nar_size
            .filter(|&s| s > 0)
            .ok_or(NarInfoError::Missing("NarSize"))?;
        let mut info = PathInfo::new(path, nar_hash, nar_size);
        info.references = refs.into_iter().collect();
        info.deriver = deriver;
        info.sigs = sigs;
        info.ca = ca;
        Ok(Self {
            info,
            url,
            compression: compression.unwrap_or_else(|| "bzip2".to_owned()),
            file_hash,
            file_size,
        })
    }

    /// The narinfo text, fields in CppNix's order.
    pub fn to_text(&self, store_dir: &StoreDir) -> String {
        let i = &self.info;
        let mut s = format!(
            "StorePath: {}\nURL: {}\n",
            store_dir.print_path(&i.path),
            self.url
        );
        s.push_str(&format!("Compression: {}\n", self.compression));
        if let Some(h) = &self.file_hash {
            s.push_str(&format!(
                "FileHash: {}\n",
                h.encode(HashEncoding::Nix32, true)
            ));
        }
        if let Some(n) = self.file_size {
            s.push_str(&format!("FileSize: {n}\n"));
        }
        s.push_str(&format!(
            "NarHash: {}\nNarSize: {}\n",
            i.nar_hash.encode(HashEncoding::Nix32, true),
            i.nar_size
        ));
        let refs: Vec<String> = i.references.iter().map(StorePath::to_base_name).collect();
        s.push_str(&format!("References: {}\n", refs.join(" ")));
        if let Some(d) = &i.deriver {
            s.push_str(&format!("Deriver: {}\n", d.to_base_name()));
        }
        for sig in &i.sigs {
            s.push_str(&format!("Sig: {sig}\n"));
        }
        if let Some(ca) = &i.ca {
            s.push_str(&format!("CA: {ca}\n"));
        }
        s
    }
}

/// The string a path's signatures sign: `1;<path>;<narHash>;<narSize>;<ref,ref,…>`.
pub fn fingerprint(store_dir: &StoreDir, info: &PathInfo) -> String {
    let refs: Vec<String> = info
        .references
        .iter()
        .map(|r| store_dir.print_path(r))
        .collect();
    format!(
        "1;{};{};{};{}",
        store_dir.print_path(&info.path),
        info.nar_hash.encode(HashEncoding::Nix32, true),
        info.nar_size,
        refs.join(",")
    )
}

/// Adds `key`'s signature of `info` to `info.sigs`.
pub fn sign(store_dir: &StoreDir, info: &mut PathInfo, key: &SecretKey) {
    let sig = key.sign(fingerprint(store_dir, info).as_bytes());
    info.sigs.insert(sig);
}

/// True if at least one of `info`'s signatures is valid for one of `keys`.
pub fn has_valid_signature(store_dir: &StoreDir, info: &PathInfo, keys: &[PublicKey]) -> bool {
    let fp = fingerprint(store_dir, info);
    info.sigs
        .iter()
        .any(|sig| keys.iter().any(|k| k.verify(fp.as_bytes(), sig)))
}
