//! Nix strings are byte strings; Rust strings are UTF-8. Bytes of the input
//! that are not valid UTF-8 are kept, reversibly, as characters of a
//! private-use range (`U+10FF80`–`U+10FFFF`, one per byte), like Python's
//! "surrogateescape": text stays valid UTF-8, and a consumer that cares (e.g.
//! `builtins.toJSON`, which CppNix makes fail on such bytes) can find them.
//!
//! The mapping is a bijection between byte strings and *canonical* texts:
//! [`decode_bytes`] escapes every byte that is not part of a valid UTF-8
//! sequence, and also the four bytes of a valid character that lies in the
//! escape range itself, so [`encode_bytes`] never confuses the two. A text is
//! canonical when it is what `decode_bytes` makes of its own bytes; joining
//! two canonical texts may not be (an escaped `\xc3` followed by an escaped
//! `\xa9` is the character `é`), which [`canonicalize`] repairs. Where a text
//! has no escape character (the common case, [`has_escapes`] is false), its
//! UTF-8 bytes are its Nix bytes, so byte offsets need no translation.

use std::borrow::Cow;
use std::cmp::Ordering;

/// The character standing for invalid byte `b` is `ESCAPE_BASE + b`.
const ESCAPE_BASE: u32 = 0x10_FF00;

/// UTF-8 of every escape character starts with these two bytes, then
/// `0xBE` or `0xBF`, then a continuation byte.
const ESCAPE_LEAD: [u8; 2] = [0xF4, 0x8F];

/// Whether `bytes[i..]` starts with the UTF-8 of an escape character.
#[inline]
fn escape_at(bytes: &[u8], i: usize) -> bool {
    matches!(bytes.get(i..i + 3), Some([0xF4, 0x8F, 0xBE | 0xBF]))
}

/// Pushes the escape character for byte `b`.
fn push_escape(out: &mut String, b: u8) {
    out.push(char::from_u32(ESCAPE_BASE + u32::from(b)).unwrap_or(char::REPLACEMENT_CHARACTER));
}

/// Pushes valid UTF-8 `good`, escaping (byte by byte) the characters that
/// lie in the escape range.
fn push_valid(out: &mut String, good: &str) {
    let bytes = good.as_bytes();
    let mut start = 0;
    for i in memchr::memchr_iter(ESCAPE_LEAD[0], bytes) {
        if i >= start && escape_at(bytes, i) {
            out.push_str(&good[start..i]);
            for &b in &bytes[i..i + 4] {
                push_escape(out, b);
            }
            start = i + 4;
        }
    }
    out.push_str(&good[start..]);
}

/// Whether `text` holds an escape character (a byte that is not UTF-8).
///
/// Called for every string value made, so the common short string is
/// scanned eight bytes a step for a byte `0xF4` or above (the lead of a
/// character from `U+100000`, rare) before the exact check; a `memchr` call
/// costs more set-up than such a string has bytes.
#[inline]
pub fn has_escapes(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() <= 64 {
        return any_byte_from_f4(bytes) && escapes_from(bytes);
    }
    escapes_from(bytes)
}

/// Whether a byte of `bytes` is `0xF4` or above, without branches: for a
/// byte `b` with its top bit set, `(b & 0x7F) + 0x0C` reaches `0x80` exactly
/// when `b >= 0xF4`, and no lane carries into the next.
#[inline]
fn any_byte_from_f4(bytes: &[u8]) -> bool {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const TOP: u64 = 0x8080_8080_8080_8080;
    const ADD: u64 = 0x0C0C_0C0C_0C0C_0C0C;
    let mut chunks = bytes.chunks_exact(8);
    let mut acc = 0u64;
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        acc |= ((x & LOW7) + ADD) & x;
    }
    let rest = chunks.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    let x = u64::from_le_bytes(last);
    acc |= ((x & LOW7) + ADD) & x;
    acc & TOP != 0
}

/// The exact check behind [`has_escapes`].
fn escapes_from(bytes: &[u8]) -> bool {
    memchr::memchr_iter(ESCAPE_LEAD[0], bytes).any(|i| escape_at(bytes, i))
}

/// Decodes bytes as UTF-8, escaping every byte that is not part of a valid
/// sequence (see the module docs).
pub fn decode_bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        if !has_escapes(text) {
            return Cow::Borrowed(text);
        }
    }
    let mut out = String::with_capacity(bytes.len() + 16);
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                push_valid(&mut out, s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                push_valid(&mut out, std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for &b in &bad[..n] {
                    push_escape(&mut out, b);
                }
                rest = &bad[n..];
            }
        }
    }
    Cow::Owned(out)
}

/// [`decode_bytes`] of an owned buffer: valid UTF-8 is reused, not copied.
pub fn decode_vec(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) if !has_escapes(&text) => text,
        Ok(text) => decode_bytes(text.as_bytes()).into_owned(),
        Err(e) => decode_bytes(e.as_bytes()).into_owned(),
    }
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
    if !has_escapes(text) {
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

/// The canonical text of the bytes `text` stands for: escapes that form
/// valid UTF-8 together become the character (see the module docs).
pub fn canonicalize(text: &str) -> Cow<'_, str> {
    if !has_escapes(text) {
        return Cow::Borrowed(text);
    }
    match encode_bytes(text) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        Cow::Owned(bytes) => {
            let canonical = decode_vec(bytes);
            if canonical == text {
                Cow::Borrowed(text)
            } else {
                Cow::Owned(canonical)
            }
        }
    }
}

/// The number of bytes `text` stands for (an escape character is one).
pub fn byte_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let escapes = memchr::memchr_iter(ESCAPE_LEAD[0], bytes)
        .filter(|&i| escape_at(bytes, i))
        .count();
    bytes.len() - 3 * escapes
}

/// Orders two texts by the bytes they stand for (Nix's string order).
/// UTF-8 orders like its bytes, so only a first difference inside an escape
/// character needs the texts re-encoded.
pub fn cmp_bytes(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if !has_escapes(a) && !has_escapes(b) {
        return x.cmp(y);
    }
    let common = x.iter().zip(y).take_while(|(p, q)| p == q).count();
    // The character holding the first difference starts at the same
    // boundary in both (their bytes agree before it).
    let mut start = common;
    while start > 0 && !a.is_char_boundary(start) {
        start -= 1;
    }
    if escape_at(x, start) || escape_at(y, start) {
        return encode_bytes(&a[start..]).cmp(&encode_bytes(&b[start..]));
    }
    x[common..].cmp(&y[common..])
}

/// The text standing for `bytes[start..end]` of the bytes of canonical
/// text `text` (clamped to its length), without copying when the cut falls
/// between characters of a text without escapes.
pub fn byte_slice(text: &str, start: usize, end: usize) -> Cow<'_, str> {
    if has_escapes(text) {
        let bytes = encode_bytes(text);
        let start = start.min(bytes.len());
        let end = end.clamp(start, bytes.len());
        return Cow::Owned(decode_bytes(&bytes[start..end]).into_owned());
    }
    let start = start.min(text.len());
    let end = end.clamp(start, text.len());
    match text.get(start..end) {
        Some(piece) => Cow::Borrowed(piece),
        None => decode_bytes(&text.as_bytes()[start..end]),
    }
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

    #[test]
    fn characters_of_the_escape_range_are_escaped_too() {
        let input = "a\u{10FF80}b\u{10FFFF}".as_bytes();
        let text = decode_bytes(input);
        assert_eq!(text.chars().count(), 10);
        assert_eq!(encode_bytes(&text).as_ref(), input);
        assert_eq!(byte_len(&text), input.len());
        assert_eq!(canonicalize(&text), text);
    }

    #[test]
    fn joined_escapes_become_characters() {
        let e = "é".as_bytes();
        let joined = format!("{}{}", decode_bytes(&e[..1]), decode_bytes(&e[1..]));
        assert!(has_escapes(&joined));
        assert_eq!(canonicalize(&joined), "é");
    }

    #[test]
    fn the_quick_scan_finds_every_lead_byte() {
        for b in 0..=255u8 {
            for at in 0..20 {
                let mut v = [b'a'; 20];
                v[at] = b;
                assert_eq!(any_byte_from_f4(&v[..]), b >= 0xF4, "{b:#x} at {at}");
                assert_eq!(any_byte_from_f4(&v[..at + 1]), b >= 0xF4);
            }
        }
    }

    #[test]
    fn slices_and_order_are_by_bytes() {
        assert_eq!(byte_len("é"), 2);
        let tail = byte_slice("é", 1, 2);
        assert_eq!(encode_bytes(&tail).as_ref(), &[0xA9]);
        assert_eq!(byte_len(&tail), 1);
        assert_eq!(byte_slice("héllo", 1, 3), "é");
        let head = byte_slice("é", 0, 1);
        assert_eq!(cmp_bytes(&head, "é"), Ordering::Less);
        assert_eq!(cmp_bytes("é", &head), Ordering::Greater);
        assert_eq!(cmp_bytes(&tail, "z"), Ordering::Greater);
        assert_eq!(cmp_bytes("a", "b"), Ordering::Less);
        assert_eq!(cmp_bytes("ab", "ab"), Ordering::Equal);
    }
}
