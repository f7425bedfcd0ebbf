//! Nix's base-32 encoding ("nix32"), as used in store path hash parts and hash strings.
//!
//! The alphabet omits `e`, `o`, `u` and `t`. Characters are produced starting from the
//! most significant 5-bit group of the *last* byte, so the encoding is not the RFC 4648 one.

/// The 32 characters of the nix32 alphabet, in digit order.
pub const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Maps every byte to its digit value, or `0xff` when it is not a nix32 character.
const DECODE_TABLE: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Why a nix32 string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A character outside the nix32 alphabet.
    #[error("invalid nix32 character {character:?} at byte offset {offset}")]
    InvalidCharacter {
        /// The offending byte (as a char, lossy for non-ASCII).
        character: char,
        /// Byte offset in the input.
        offset: usize,
    },
    /// The input length is not the encoded length of any byte string.
    #[error("invalid nix32 length {0}")]
    InvalidLength(usize),
    /// The leading character carries bits beyond the decoded length.
    #[error("nix32 string has non-zero padding bits (in character at byte offset 0)")]
    NonZeroPadding,
}

/// Returns true if `byte` belongs to the nix32 alphabet.
#[inline]
pub fn is_nix32_byte(byte: u8) -> bool {
    DECODE_TABLE[byte as usize] != 0xff
}

/// Number of characters needed to encode `len` bytes.
pub const fn encoded_len(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        (len * 8 - 1) / 5 + 1
    }
}

/// Number of bytes a nix32 string of `len` characters decodes to.
pub const fn decoded_len(len: usize) -> usize {
    len * 5 / 8
}

/// Encodes `input` as nix32.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(input.len()));
    encode_into(input, &mut out);
    out
}

/// Appends the nix32 encoding of `input` to `out`.
pub fn encode_into(input: &[u8], out: &mut String) {
    let len = encoded_len(input.len());
    out.reserve(len);
    for n in (0..len).rev() {
        let bit = n * 5;
        let i = bit / 8;
        let j = bit % 8;
        let low = input[i] >> j;
        let high = match input.get(i + 1) {
            Some(next) if j > 3 => next << (8 - j),
            _ => 0,
        };
        out.push(char::from(ALPHABET[((low | high) & 0x1f) as usize]));
    }
}

/// Decodes a nix32 string.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let len = decoded_len(input.len());
    if encoded_len(len) != input.len() {
        return Err(DecodeError::InvalidLength(input.len()));
    }
    let mut out = vec![0u8; len];
    decode_into(input, &mut out)?;
    Ok(out)
}

/// Decodes a nix32 string into a fixed-size array (e.g. a 20-byte store path digest).
pub fn decode_fixed<const N: usize>(input: &[u8]) -> Result<[u8; N], DecodeError> {
    if input.len() != encoded_len(N) {
        return Err(DecodeError::InvalidLength(input.len()));
    }
    let mut out = [0u8; N];
    decode_into(input, &mut out)?;
    Ok(out)
}

/// Decodes `input` into `out`, whose length must equal `decoded_len(input.len())`.
fn decode_into(input: &[u8], out: &mut [u8]) -> Result<(), DecodeError> {
    let last = input.len();
    for (offset, &c) in input.iter().enumerate() {
        let digit = DECODE_TABLE[c as usize];
        if digit == 0xff {
            return Err(DecodeError::InvalidCharacter {
                character: char::from(c),
                offset,
            });
        }
        let n = last - offset - 1;
        let bit = n * 5;
        let i = bit / 8;
        let j = bit % 8;
        out[i] |= digit << j;
        let carry = if j > 3 { digit >> (8 - j) } else { 0 };
        match out.get_mut(i + 1) {
            Some(next) => *next |= carry,
            None if carry != 0 => return Err(DecodeError::NonZeroPadding),
            None => {}
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_vectors() {
        // sha256("") in nix32, as printed by `nix-hash --type sha256 --to-base32`.
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            encode(&bytes),
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
        );
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0x1f]), "0z");
        assert_eq!(encode(&[0xff]), "7z");
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            decode(b"0e"),
            Err(DecodeError::InvalidCharacter {
                character: 'e',
                offset: 1
            })
        );
        assert_eq!(decode(b"000"), Err(DecodeError::InvalidLength(3)));
        assert_eq!(decode(b"8z"), Err(DecodeError::NonZeroPadding));
        assert_eq!(decode(b"7z"), Ok(vec![0xff]));
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let s = encode(&bytes);
            prop_assert_eq!(s.len(), encoded_len(bytes.len()));
            prop_assert_eq!(decode(s.as_bytes()).unwrap(), bytes);
        }

        #[test]
        fn decode_never_panics(s in "[0-9a-z]{0,60}") {
            if let Ok(bytes) = decode(s.as_bytes()) {
                prop_assert_eq!(encode(&bytes), s);
            }
        }
    }
}
