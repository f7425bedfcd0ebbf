//! The workspace's one base64: padded standard base64 (RFC 4648), as CppNix writes it in
//! SRI hashes, signatures and keys, on the `data-encoding` crate.

use data_encoding::{DecodeKind, BASE64};

/// Why a base64 text did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base64Error {
    /// A byte outside the base64 alphabet (or `=` where data is expected).
    #[error("invalid base64 character {character:?} at byte offset {offset}")]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its byte offset in the text.
        offset: usize,
    },
    /// The text is not a whole number of 4-character groups.
    #[error("base64 text has invalid length {0}")]
    Length(usize),
    /// Wrong padding, or non-zero bits after the last byte (not canonical).
    #[error("invalid base64 padding")]
    Padding,
}

/// Encodes `data` as padded standard base64.
pub fn encode(data: &[u8]) -> String {
    BASE64.encode(data)
}

/// Decodes padded standard base64; only the canonical encoding is accepted.
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    BASE64.decode(text.as_bytes()).map_err(|e| match e.kind {
        DecodeKind::Length => Base64Error::Length(text.len()),
        DecodeKind::Symbol => Base64Error::InvalidCharacter {
            character: text[e.position..].chars().next().unwrap_or('\u{fffd}'),
            offset: e.position,
        },
        DecodeKind::Trailing | DecodeKind::Padding => Base64Error::Padding,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length() {
        for len in 0..70usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = encode(&data);
            assert_eq!(text.len(), len.div_ceil(3) * 4);
            assert_eq!(decode(&text).unwrap(), data);
        }
    }

    #[test]
    fn rejects_bad_input_with_its_place() {
        assert_eq!(
            decode("ab!d"),
            Err(Base64Error::InvalidCharacter {
                character: '!',
                offset: 2
            })
        );
        assert_eq!(decode("abc"), Err(Base64Error::Length(3)));
        // Non-zero bits after the last byte: not canonical.
        assert_eq!(decode("AB=="), Err(Base64Error::Padding));
        assert_eq!(decode("AA=="), Ok(vec![0]));
        assert!(decode("A===").is_err());
    }
}
