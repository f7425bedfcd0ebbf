//! Hash algorithms and hash values, with every textual form CppNix reads and prints:
//! base16, nix32, base64, SRI (`sha256-…`) and the `algo:digest` prefixed forms.

use std::fmt;
use std::str::FromStr;

use crate::nixbase32;

/// A hash algorithm supported by Nix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashAlgo {
    /// MD5 (16 bytes).
    Md5,
    /// SHA-1 (20 bytes).
    Sha1,
    /// SHA-256 (32 bytes).
    Sha256,
    /// SHA-512 (64 bytes).
    Sha512,
}

/// The error for an unknown hash algorithm name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash algorithm '{0}'")]
pub struct UnknownHashAlgo(pub String);

impl HashAlgo {
    /// All algorithms, in CppNix's order.
    pub const ALL: [HashAlgo; 4] = [Self::Md5, Self::Sha1, Self::Sha256, Self::Sha512];

    /// The algorithm's name as Nix spells it (`md5`, `sha1`, `sha256`, `sha512`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Digest size in bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// Length of the base16 form of a digest.
    pub const fn base16_len(self) -> usize {
        self.digest_len() * 2
    }

    /// Length of the nix32 form of a digest.
    pub const fn nix32_len(self) -> usize {
        nixbase32::encoded_len(self.digest_len())
    }

    /// Length of the (padded) base64 form of a digest.
    pub const fn base64_len(self) -> usize {
        self.digest_len().div_ceil(3) * 4
    }
}

impl FromStr for HashAlgo {
    type Err = UnknownHashAlgo;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "md5" => Ok(Self::Md5),
            "sha1" => Ok(Self::Sha1),
            "sha256" => Ok(Self::Sha256),
            "sha512" => Ok(Self::Sha512),
            other => Err(UnknownHashAlgo(other.to_owned())),
        }
    }
}

impl fmt::Display for HashAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A textual encoding of a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashEncoding {
    /// Lower-case hexadecimal.
    Base16,
    /// Nix's base-32.
    Nix32,
    /// Standard padded base64.
    Base64,
    /// Subresource integrity: `algo-<base64>` (always carries the algorithm).
    Sri,
}

/// A digest together with its algorithm.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash {
    algo: HashAlgo,
    bytes: [u8; 64],
}

/// Why a hash string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseHashError {
    /// The `algo:`/`algo-` prefix names an unknown algorithm.
    #[error(transparent)]
    UnknownAlgo(#[from] UnknownHashAlgo),
    /// No prefix, and the caller gave no algorithm.
    #[error("hash '{0}' does not include a type, nor is the type otherwise known from context")]
    MissingAlgo(String),
    /// The prefix names a different algorithm from the one the caller expected.
    #[error("hash '{hash}' should have type '{expected}'")]
    AlgoMismatch {
        /// The hash string.
        hash: String,
        /// The algorithm the caller required.
        expected: HashAlgo,
    },
    /// The digest has a length matching none of the encodings for the algorithm.
    #[error("hash '{hash}' has wrong length for hash type '{algo}'")]
    WrongLength {
        /// The hash string.
        hash: String,
        /// The algorithm.
        algo: HashAlgo,
    },
    /// A bad character in base16, nix32 or base64 digest text.
    #[error("invalid character {character:?} at byte offset {offset} in {encoding} hash '{hash}'")]
    InvalidCharacter {
        /// The hash string.
        hash: String,
        /// Which encoding was being decoded.
        encoding: &'static str,
        /// The offending character.
        character: char,
        /// Offset of the character in the whole input string.
        offset: usize,
    },
    /// Non-zero padding bits in a nix32 or base64 digest.
    #[error("invalid padding in {encoding} hash '{hash}'")]
    InvalidPadding {
        /// The hash string.
        hash: String,
        /// Which encoding was being decoded.
        encoding: &'static str,
    },
    /// An SRI hash whose digest is not base64.
    #[error("invalid SRI hash '{0}'")]
    InvalidSri(String),
}

/// Why a digest could not be wrapped as a [`Hash`](struct@Hash).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("digest of {len} bytes does not fit hash algorithm '{algo}' ({expected} bytes)")]
pub struct DigestLengthError {
    /// The algorithm.
    pub algo: HashAlgo,
    /// The given length.
    pub len: usize,
    /// The required length.
    pub expected: usize,
}

impl Hash {
    /// Wraps a digest produced by `algo`.
    pub fn from_digest(algo: HashAlgo, digest: &[u8]) -> Result<Self, DigestLengthError> {
        if digest.len() != algo.digest_len() {
            return Err(DigestLengthError {
                algo,
                len: digest.len(),
                expected: algo.digest_len(),
            });
        }
        let mut bytes = [0u8; 64];
        bytes[..digest.len()].copy_from_slice(digest);
        Ok(Self { algo, bytes })
    }

    /// Builds a hash from a zero-padded digest buffer whose first `algo.digest_len()` bytes are set.
    pub(crate) fn from_raw(algo: HashAlgo, bytes: [u8; 64]) -> Self {
        Self { algo, bytes }
    }

    /// Hashes `data` in one go.
    pub fn digest(algo: HashAlgo, data: &[u8]) -> Self {
        let mut sink = crate::HashSink::new(algo);
        sink.update(data);
        sink.finish().0
    }

    /// The algorithm.
    pub fn algo(&self) -> HashAlgo {
        self.algo
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algo.digest_len()]
    }

    /// Lower-case hexadecimal digest.
    pub fn to_base16(&self) -> String {
        let mut out = String::with_capacity(self.algo.base16_len());
        for b in self.as_bytes() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }

    /// nix32 digest.
    pub fn to_nix32(&self) -> String {
        nixbase32::encode(self.as_bytes())
    }

    /// Padded base64 digest.
    pub fn to_base64(&self) -> String {
        crate::base64::encode(self.as_bytes())
    }

    /// `algo-<base64>`.
    pub fn to_sri(&self) -> String {
        format!("{}-{}", self.algo, self.to_base64())
    }

    /// The digest in `encoding`; with `with_algo`, prefixed by `algo:` (SRI always has its prefix).
    pub fn encode(&self, encoding: HashEncoding, with_algo: bool) -> String {
        let digest = match encoding {
            HashEncoding::Base16 => self.to_base16(),
            HashEncoding::Nix32 => self.to_nix32(),
            HashEncoding::Base64 => self.to_base64(),
            HashEncoding::Sri => return self.to_sri(),
        };
        if with_algo {
            format!("{}:{}", self.algo, digest)
        } else {
            digest
        }
    }

    /// XOR-folds the digest to `len` bytes (`out[i % len] ^= in[i]`), as CppNix's `compressHash`.
    pub fn fold_to(&self, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        if len > 0 {
            for (i, b) in self.as_bytes().iter().enumerate() {
                out[i % len] ^= b;
            }
        }
        out
    }

    /// Parses any form: `algo:digest`, `algo-base64` (SRI), or a bare digest when `algo` is given.
    ///
    /// When `algo` is given and the string carries a different one, that is an error.
    pub fn parse_any(s: &str, algo: Option<HashAlgo>) -> Result<Self, ParseHashError> {
        let parsed = if let Some((name, rest)) = s.split_once(':') {
            let found = HashAlgo::from_str(name)?;
            parse_digest(s, name.len() + 1, rest, found, false)?
        } else if let Some((name, rest)) = s.split_once('-') {
            let found = HashAlgo::from_str(name)?;
            parse_digest(s, name.len() + 1, rest, found, true)?
        } else {
            let algo = algo.ok_or_else(|| ParseHashError::MissingAlgo(s.to_owned()))?;
            return parse_digest(s, 0, s, algo, false);
        };
        match algo {
            Some(expected) if expected != parsed.algo => Err(ParseHashError::AlgoMismatch {
                hash: s.to_owned(),
                expected,
            }),
            _ => Ok(parsed),
        }
    }

    /// Parses a string that must carry its algorithm (`algo:digest` or SRI).
    pub fn parse_with_algo(s: &str) -> Result<Self, ParseHashError> {
        if !s.contains([':', '-']) {
            return Err(ParseHashError::MissingAlgo(s.to_owned()));
        }
        Self::parse_any(s, None)
    }

    /// Parses an SRI hash (`algo-<base64>`).
    pub fn parse_sri(s: &str) -> Result<Self, ParseHashError> {
        let (name, rest) = s
            .split_once('-')
            .ok_or_else(|| ParseHashError::InvalidSri(s.to_owned()))?;
        let algo = HashAlgo::from_str(name)?;
        parse_digest(s, name.len() + 1, rest, algo, true)
    }

    /// Parses a bare digest (base16, nix32 or base64, told apart by length) of algorithm `algo`.
    pub fn parse_bare(s: &str, algo: HashAlgo) -> Result<Self, ParseHashError> {
        parse_digest(s, 0, s, algo, false)
    }
}

/// Decodes `digest` (located at `base` in `whole`) as a digest of `algo`.
fn parse_digest(
    whole: &str,
    base: usize,
    digest: &str,
    algo: HashAlgo,
    sri: bool,
) -> Result<Hash, ParseHashError> {
    let len = digest.len();
    let mut bytes = [0u8; 64];
    let out = &mut bytes[..algo.digest_len()];
    if sri {
        if len != algo.base64_len() {
            return Err(ParseHashError::InvalidSri(whole.to_owned()));
        }
        base64_decode_into(whole, base, digest, out)?;
    } else if len == algo.base16_len() {
        for (i, pair) in digest.as_bytes().chunks_exact(2).enumerate() {
            let hi = hex_value(whole, base + 2 * i, pair[0])?;
            let lo = hex_value(whole, base + 2 * i + 1, pair[1])?;
            out[i] = (hi << 4) | lo;
        }
    } else if len == algo.nix32_len() {
        let decoded = nixbase32::decode(digest.as_bytes()).map_err(|e| match e {
            nixbase32::DecodeError::InvalidCharacter { character, offset } => {
                ParseHashError::InvalidCharacter {
                    hash: whole.to_owned(),
                    encoding: "nix32",
                    character,
                    offset: base + offset,
                }
            }
            _ => ParseHashError::InvalidPadding {
                hash: whole.to_owned(),
                encoding: "nix32",
            },
        })?;
        out.copy_from_slice(&decoded);
    } else if len == algo.base64_len() {
        base64_decode_into(whole, base, digest, out)?;
    } else {
        return Err(ParseHashError::WrongLength {
            hash: whole.to_owned(),
            algo,
        });
    }
    Ok(Hash { algo, bytes })
}

fn hex_value(whole: &str, offset: usize, c: u8) -> Result<u8, ParseHashError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(ParseHashError::InvalidCharacter {
            hash: whole.to_owned(),
            encoding: "base16",
            character: char::from(c),
            offset,
        }),
    }
}

/// Decodes the padded base64 digest `text` (at `base` in `whole`) into exactly `out.len()` bytes.
fn base64_decode_into(
    whole: &str,
    base: usize,
    text: &str,
    out: &mut [u8],
) -> Result<(), ParseHashError> {
    let decoded = crate::base64::decode(text).map_err(|e| match e {
        crate::base64::Base64Error::InvalidCharacter { character, offset } => {
            ParseHashError::InvalidCharacter {
                hash: whole.to_owned(),
                encoding: "base64",
                character,
                offset: base + offset,
            }
        }
        _ => ParseHashError::InvalidPadding {
            hash: whole.to_owned(),
            encoding: "base64",
        },
    })?;
    if decoded.len() != out.len() {
        return Err(ParseHashError::InvalidPadding {
            hash: whole.to_owned(),
            encoding: "base64",
        });
    }
    out.copy_from_slice(&decoded);
    Ok(())
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({}:{})", self.algo, self.to_base16())
    }
}

/// Displays as SRI, like modern CppNix.
impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sri())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const EMPTY_SHA256_HEX: &str =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digests_of_empty_input() {
        let h = Hash::digest(HashAlgo::Sha256, b"");
        assert_eq!(h.to_base16(), EMPTY_SHA256_HEX);
        assert_eq!(
            h.to_sri(),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            Hash::digest(HashAlgo::Md5, b"").to_base16(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            Hash::digest(HashAlgo::Sha1, b"abc").to_base16(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(Hash::digest(HashAlgo::Sha512, b"").to_base64().len(), 88);
    }

    #[test]
    fn parse_every_form() {
        let h = Hash::digest(HashAlgo::Sha256, b"");
        for enc in [
            HashEncoding::Base16,
            HashEncoding::Nix32,
            HashEncoding::Base64,
        ] {
            let bare = h.encode(enc, false);
            assert_eq!(Hash::parse_any(&bare, Some(HashAlgo::Sha256)), Ok(h));
            assert_eq!(Hash::parse_bare(&bare, HashAlgo::Sha256), Ok(h));
            let prefixed = h.encode(enc, true);
            assert_eq!(Hash::parse_any(&prefixed, None), Ok(h));
            assert_eq!(Hash::parse_with_algo(&prefixed), Ok(h));
        }
        assert_eq!(Hash::parse_sri(&h.to_sri()), Ok(h));
        assert_eq!(Hash::parse_any(&h.to_sri(), Some(HashAlgo::Sha256)), Ok(h));
        assert_eq!(
            Hash::parse_any(&EMPTY_SHA256_HEX.to_uppercase(), Some(HashAlgo::Sha256)),
            Ok(h)
        );
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(
            Hash::parse_any("abc", None),
            Err(ParseHashError::MissingAlgo(_))
        ));
        assert!(matches!(
            Hash::parse_any("sha257:abc", None),
            Err(ParseHashError::UnknownAlgo(_))
        ));
        assert!(matches!(
            Hash::parse_any("sha256:abc", None),
            Err(ParseHashError::WrongLength { .. })
        ));
        let h = Hash::digest(HashAlgo::Sha1, b"");
        assert!(matches!(
            Hash::parse_any(
                &h.encode(HashEncoding::Base16, true),
                Some(HashAlgo::Sha256)
            ),
            Err(ParseHashError::AlgoMismatch { .. })
        ));
        let mut bad = h.encode(HashEncoding::Base16, true);
        bad.replace_range(7..8, "g");
        assert!(matches!(
            Hash::parse_any(&bad, None),
            Err(ParseHashError::InvalidCharacter { offset: 7, .. })
        ));
        // Non-zero trailing bits in base64 (last char before '=' carries unused bits).
        let sri = Hash::digest(HashAlgo::Sha256, b"").to_sri();
        let mut bits = sri.clone();
        bits.replace_range(sri.len() - 2..sri.len() - 1, "V");
        assert!(matches!(
            Hash::parse_sri(&bits),
            Err(ParseHashError::InvalidPadding { .. })
        ));
        assert!(matches!(
            Hash::parse_sri("sha256-abc"),
            Err(ParseHashError::InvalidSri(_))
        ));
    }

    #[test]
    fn fold() {
        let h = Hash::from_digest(HashAlgo::Md5, &[1; 16]).unwrap();
        assert_eq!(h.fold_to(8), vec![0; 8]);
        assert_eq!(h.fold_to(10)[..6], [0; 6]);
        assert_eq!(h.fold_to(10)[6..], [1; 4]);
    }
}
