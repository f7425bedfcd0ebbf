//! Store paths (`<hash part>-<name>`) and the store directory setting they live in.

use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};

use crate::nixbase32;

/// Length of a store path's hash part in nix32 characters.
pub const HASH_PART_LEN: usize = 32;
/// Length of a store path's digest in bytes.
pub const DIGEST_LEN: usize = 20;
/// Maximum length of a store path name.
pub const MAX_NAME_LEN: usize = 211;

/// Why a store path name is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    /// The name is empty.
    #[error("store path name is empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`].
    #[error("store path name '{name}' is longer than {MAX_NAME_LEN} characters")]
    TooLong {
        /// The name.
        name: String,
    },
    /// A character outside `[0-9A-Za-z+\-._?=]`.
    #[error(
        "store path name '{name}' contains illegal character {character:?} at byte offset {offset}"
    )]
    IllegalCharacter {
        /// The name.
        name: String,
        /// The character.
        character: char,
        /// Byte offset in the name.
        offset: usize,
    },
    /// `.`, `..`, or a name starting with `.-` or `..-`.
    #[error("store path name '{name}' is reserved ('.', '..', or starting with '.-' or '..-')")]
    Reserved {
        /// The name.
        name: String,
    },
}

/// Checks a store path name against CppNix's rules.
pub fn validate_name(name: &str) -> Result<(), InvalidName> {
    if name.is_empty() {
        return Err(InvalidName::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(InvalidName::TooLong {
            name: name.to_owned(),
        });
    }
    if name == "." || name == ".." || name.starts_with(".-") || name.starts_with("..-") {
        return Err(InvalidName::Reserved {
            name: name.to_owned(),
        });
    }
    for (offset, c) in name.char_indices() {
        let ok = c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '_' | '?' | '=');
        if !ok {
            return Err(InvalidName::IllegalCharacter {
                name: name.to_owned(),
                character: c,
                offset,
            });
        }
    }
    Ok(())
}

/// Why a store path (base name or absolute path) could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseStorePathError {
    /// Too short to hold a hash part, a dash and a name.
    #[error("store path base name '{0}' is too short")]
    TooShort(String),
    /// A character in the hash part is not nix32.
    #[error(
        "store path '{path}' has an invalid hash part (bad character at byte offset {offset})"
    )]
    InvalidHashPart {
        /// The input.
        path: String,
        /// Byte offset of the bad character in the input.
        offset: usize,
    },
    /// No `-` after the hash part.
    #[error("store path '{0}' lacks the '-' after its hash part")]
    MissingDash(String),
    /// The name is invalid.
    #[error("store path '{path}': {source}")]
    InvalidName {
        /// The input.
        path: String,
        /// What is wrong with the name.
        source: InvalidName,
    },
    /// An absolute path that is not directly inside the store directory.
    #[error("path '{path}' is not in the Nix store '{store_dir}'")]
    NotInStore {
        /// The input.
        path: String,
        /// The store directory.
        store_dir: String,
    },
}

/// A store path without its directory: a 20-byte digest (kept as 32 nix32 chars) and a name.
///
/// Ordering equals the ordering of the base names as strings, which is CppNix's order.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorePath {
    hash_part: [u8; HASH_PART_LEN],
    name: Box<str>,
}

impl StorePath {
    /// Builds a store path from a digest and a name (the name is validated).
    pub fn from_digest(digest: &[u8; DIGEST_LEN], name: &str) -> Result<Self, InvalidName> {
        validate_name(name)?;
        let encoded = nixbase32::encode(digest);
        let mut hash_part = [0u8; HASH_PART_LEN];
        hash_part.copy_from_slice(encoded.as_bytes());
        Ok(Self {
            hash_part,
            name: name.into(),
        })
    }

    /// Parses a base name `<hash part>-<name>`.
    pub fn from_base_name(base: &str) -> Result<Self, ParseStorePathError> {
        Self::parse_at(base, base, 0)
    }

    /// Parses `base` (located at `offset` in `whole`, for error messages).
    fn parse_at(whole: &str, base: &str, offset: usize) -> Result<Self, ParseStorePathError> {
        let bytes = base.as_bytes();
        if bytes.len() < HASH_PART_LEN + 2 {
            return Err(ParseStorePathError::TooShort(base.to_owned()));
        }
        let mut hash_part = [0u8; HASH_PART_LEN];
        hash_part.copy_from_slice(&bytes[..HASH_PART_LEN]);
        if let Some(i) = hash_part.iter().position(|&c| !nixbase32::is_nix32_byte(c)) {
            return Err(ParseStorePathError::InvalidHashPart {
                path: whole.to_owned(),
                offset: offset + i,
            });
        }
        if bytes[HASH_PART_LEN] != b'-' {
            return Err(ParseStorePathError::MissingDash(whole.to_owned()));
        }
        let name = &base[HASH_PART_LEN + 1..];
        validate_name(name).map_err(|source| ParseStorePathError::InvalidName {
            path: whole.to_owned(),
            source,
        })?;
        Ok(Self {
            hash_part,
            name: name.into(),
        })
    }

    /// The 32-character nix32 hash part.
    pub fn hash_part(&self) -> &str {
        // The hash part only ever holds ASCII nix32 characters.
        std::str::from_utf8(&self.hash_part).unwrap_or_default()
    }

    /// The hash part as raw ASCII bytes.
    pub fn hash_part_bytes(&self) -> &[u8; HASH_PART_LEN] {
        &self.hash_part
    }

    /// The 20-byte digest the hash part encodes.
    pub fn digest(&self) -> [u8; DIGEST_LEN] {
        nixbase32::decode_fixed(&self.hash_part).unwrap_or([0; DIGEST_LEN])
    }

    /// The name after the dash.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<hash part>-<name>`.
    pub fn to_base_name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.hash_part(), self.name)
    }
}

impl fmt::Debug for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorePath({self})")
    }
}

/// Why a store directory setting is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidStoreDir {
    /// Not absolute.
    #[error("store directory '{0}' is not an absolute path")]
    NotAbsolute(String),
    /// Ends in `/`, or has `.`/`..`/empty components.
    #[error("store directory '{0}' is not in canonical form")]
    NotCanonical(String),
}

/// The store directory setting (default `/nix/store`). All path printing and parsing goes
/// through it; nothing else assumes a location.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreDir {
    path: Utf8PathBuf,
}

impl Default for StoreDir {
    fn default() -> Self {
        Self {
            path: Utf8PathBuf::from(Self::DEFAULT),
        }
    }
}

impl StoreDir {
    /// CppNix's default store directory.
    pub const DEFAULT: &'static str = "/nix/store";

    /// A store directory at `path`, which must be absolute and canonical.
    pub fn new(path: impl Into<Utf8PathBuf>) -> Result<Self, InvalidStoreDir> {
        let path = path.into();
        let s = path.as_str();
        if !s.starts_with('/') {
            return Err(InvalidStoreDir::NotAbsolute(s.to_owned()));
        }
        let canonical = s == "/"
            || (!s.ends_with('/')
                && s[1..]
                    .split('/')
                    .all(|c| !c.is_empty() && c != "." && c != ".."));
        if !canonical {
            return Err(InvalidStoreDir::NotCanonical(s.to_owned()));
        }
        Ok(Self { path })
    }

    /// The directory as a path.
    pub fn as_path(&self) -> &Utf8Path {
        &self.path
    }

    /// The directory as a string.
    pub fn as_str(&self) -> &str {
        self.path.as_str()
    }

    /// The absolute path of `path` in this store, as CppNix's `printStorePath`.
    pub fn print_path(&self, path: &StorePath) -> String {
        let mut s =
            String::with_capacity(self.as_str().len() + 1 + HASH_PART_LEN + 1 + path.name.len());
        self.write_path(path, &mut s);
        s
    }

    /// Appends the absolute path of `path` to `out`.
    pub fn write_path(&self, path: &StorePath, out: &mut String) {
        out.push_str(self.as_str());
        if !self.as_str().ends_with('/') {
            out.push('/');
        }
        // ASCII by construction.
        out.push_str(path.hash_part());
        out.push('-');
        out.push_str(&path.name);
    }

    /// The absolute path of `path` as a [`Utf8PathBuf`].
    pub fn path_of(&self, path: &StorePath) -> Utf8PathBuf {
        self.path.join(path.to_string())
    }

    /// Parses an absolute path that must be exactly `<store dir>/<base name>`.
    pub fn parse_path(&self, abs: &str) -> Result<StorePath, ParseStorePathError> {
        let base = self.strip_store_dir(abs)?;
        if base.contains('/') {
            return Err(ParseStorePathError::NotInStore {
                path: abs.to_owned(),
                store_dir: self.as_str().to_owned(),
            });
        }
        StorePath::parse_at(abs, base, abs.len() - base.len())
    }

    /// Splits a path inside the store (`<store dir>/<base name>[/rest]`) into the store path
    /// and the remainder (empty or starting with `/`).
    pub fn parse_path_prefix<'a>(
        &self,
        abs: &'a str,
    ) -> Result<(StorePath, &'a str), ParseStorePathError> {
        let base = self.strip_store_dir(abs)?;
        let end = base.find('/').unwrap_or(base.len());
        let (base, rest) = base.split_at(end);
        let path = StorePath::parse_at(abs, base, abs.len() - rest.len() - base.len())?;
        Ok((path, rest))
    }

    /// True if `abs` is `<store dir>/<valid base name>`.
    pub fn is_store_path(&self, abs: &str) -> bool {
        self.parse_path(abs).is_ok()
    }

    fn strip_store_dir<'a>(&self, abs: &'a str) -> Result<&'a str, ParseStorePathError> {
        let dir = self.as_str().trim_end_matches('/');
        abs.strip_prefix(dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| ParseStorePathError::NotInStore {
                path: abs.to_owned(),
                store_dir: self.as_str().to_owned(),
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("hello-2.10").is_ok());
        assert!(validate_name("a+b-c._?=").is_ok());
        assert!(validate_name(".foo").is_ok());
        assert!(validate_name("..foo").is_ok());
        assert_eq!(validate_name(""), Err(InvalidName::Empty));
        for bad in [".", "..", ".-x", "..-x"] {
            assert!(matches!(
                validate_name(bad),
                Err(InvalidName::Reserved { .. })
            ));
        }
        assert!(matches!(
            validate_name("a b"),
            Err(InvalidName::IllegalCharacter { offset: 1, .. })
        ));
        assert!(validate_name(&"x".repeat(211)).is_ok());
        assert!(matches!(
            validate_name(&"x".repeat(212)),
            Err(InvalidName::TooLong { .. })
        ));
    }

    #[test]
    fn parse_and_print() {
        let dir = StoreDir::default();
        let s = "/nix/store/kygnmi98hf8y66vibinpcwvwhzci5cnk-foo";
        let p = dir.parse_path(s).unwrap();
        assert_eq!(p.hash_part(), "kygnmi98hf8y66vibinpcwvwhzci5cnk");
        assert_eq!(p.name(), "foo");
        assert_eq!(dir.print_path(&p), s);
        assert_eq!(StorePath::from_digest(&p.digest(), "foo").unwrap(), p);
        let inside = format!("{s}/bin/x");
        let (q, rest) = dir.parse_path_prefix(&inside).unwrap();
        assert_eq!((q, rest), (p.clone(), "/bin/x"));
        assert!(matches!(
            dir.parse_path(&format!("{s}/bin")),
            Err(ParseStorePathError::NotInStore { .. })
        ));
        assert!(matches!(
            dir.parse_path("/nix/store/kygnmi98hf8y66vibinpcwvwhzci5cnE-foo"),
            Err(ParseStorePathError::InvalidHashPart { offset: 42, .. })
        ));
        assert!(matches!(
            dir.parse_path("/nix/store/kygnmi98hf8y66vibinpcwvwhzci5cnk_foo"),
            Err(ParseStorePathError::MissingDash(_))
        ));
        assert!(matches!(
            dir.parse_path("/nix/storekygnmi98hf8y66vibinpcwvwhzci5cnk-foo"),
            Err(ParseStorePathError::NotInStore { .. })
        ));
        let other = StoreDir::new("/tmp/store").unwrap();
        assert_eq!(
            other.print_path(&p),
            "/tmp/store/kygnmi98hf8y66vibinpcwvwhzci5cnk-foo"
        );
        assert!(StoreDir::new("relative").is_err());
        assert!(StoreDir::new("/nix/store/").is_err());
        assert!(StoreDir::new("/nix/../store").is_err());
    }
}
