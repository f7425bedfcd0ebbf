//! Nix strings are byte strings; Rust strings are UTF-8. Bytes of the input
//! that are not valid UTF-8 are kept, reversibly, as characters of a
//! private-use range (`U+10FF80`–`U+10FFFF`, one per byte), like Python's
//! "surrogateescape": text stays valid UTF-8, and a consumer that cares (e.g.
//! `builtins.toJSON`, which CppNix makes fail on such bytes) can find them.

use std::borrow::Cow;

/// The character standing for invalid byte `b` is `ESCAPE_BASE + b`.
const ESCAPE_BASE: u32 = 0x10_FF00;

/// Decodes bytes as UTF-8, escaping every byte that is not part of a valid
/// sequence (see the module docs).
pub fn decode_bytes(bytes: &[u8]) -> Cow<'_, str> {
    let Err(_) = std::str::from_utf8(bytes) else {
        return Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default());
    };
    let mut out = String::with_capacity(bytes.len() + 16);
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for &b in &bad[..n] {
                    out.push(
                        char::from_u32(ESCAPE_BASE + u32::from(b))
                            .unwrap_or(char::REPLACEMENT_CHARACTER),
                    );
                }
                rest = &bad[n..];
            }
        }
    }
    Cow::Owned(out)
}

/// The original byte an escaped character stands for, if `c` is one.
pub fn escaped_byte(c: char) -> Option<u8> {
    let n = u32::from(c);
    (ESCAPE_BASE + 0x80..=ESCAPE_BASE + 0xFF)
        .contains(&n)
        .then(|| (n - ESCAPE_BASE) as u8)
}

/// Re-encodes text produced by [`decode_bytes`] into the original bytes.
pub fn encode_bytes(text: &str) -> Cow<'_, [u8]> {
    if !text.chars().any(|c| escaped_byte(c).is_some()) {
        return Cow::Borrowed(text.as_bytes());
    }
    let mut out = Vec::with_capacity(text.len());
    let mut buf = [0u8; 4];
    for c in text.chars() {
        match escaped_byte(c) {
            Some(b) => out.push(b),
            None => out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_bytes_round_trip() {
        let input = b"ok \xff\xfe and \xe2\x82 end \xe2\x82\xac";
        let text = decode_bytes(input);
        assert!(text.contains('\u{20ac}'));
        assert_eq!(
            text.chars().filter_map(escaped_byte).collect::<Vec<_>>(),
            vec![0xff, 0xfe, 0xe2, 0x82]
        );
        assert_eq!(encode_bytes(&text).as_ref(), input);
        assert!(matches!(decode_bytes(b"plain"), Cow::Borrowed("plain")));
    }
}
