//! Properties every input must keep, shared by the cargo-fuzz targets (`fuzz_targets/`) and
//! the bounded smoke tests `cargo test` runs (`crates/store/tests/fuzz_smoke.rs`): no panic
//! on any bytes, and whatever parses round-trips.
#![allow(dead_code)]

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

use nixkit_store::binary_cache::{cache_info_store_dir, NarInfo, PublicKey, SecretKey};
use nixkit_store::export::read_exported_path;
use nixkit_store::nar::{self, NarVisitor};
use nixkit_store::StoreDir;

struct Drain;

impl NarVisitor for Drain {
    fn directory(&mut self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn regular_file(&mut self, _: &[u8], _: bool, _: u64, c: &mut dyn Read) -> io::Result<()> {
        io::copy(c, &mut io::sink()).map(|_| ())
    }
    fn symlink(&mut self, _: &[u8], _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// A NAR parses to an error or to a tree; a tree restores into a fresh directory (or fails
/// cleanly, say for a symlink target the file system refuses) and dumps back to exactly
/// the bytes parsed, since the parser accepts only canonical NARs.
pub(crate) fn nar(data: &[u8]) {
    let Ok(size) = nar::parse_nar(&mut &data[..], &mut Drain) else {
        return;
    };
    let size = usize::try_from(size).expect("size fits");
    assert!(size <= data.len());
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "nixkit-fuzz-nar-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let dest = dir.join("out");
    if nar::restore_path(&mut &data[..], &dest).is_ok() {
        let mut again = Vec::new();
        nar::dump_path(&dest, &mut again).expect("a restored tree dumps");
        assert_eq!(again, &data[..size], "restore then dump changed the NAR");
    }
    // Restored directories and files are writable by their owner: plain removal works.
    let _ = std::fs::remove_dir_all(&dir);
}

/// A narinfo parses to an error (never naming a file outside the cache as its URL) or to
/// metadata whose text parses back to the same metadata.
pub(crate) fn narinfo(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = StoreDir::default();
    let Ok(info) = NarInfo::parse(&dir, text) else {
        return;
    };
    assert!(nixkit_store::binary_cache::is_safe_nar_url(&info.url));
    let again = NarInfo::parse(&dir, &info.to_text(&dir)).expect("printed narinfo parses");
    assert_eq!(again, info);
}

/// An export stream reads path by path to an error or to its end; each NAR read is
/// well-formed (it parses again).
pub(crate) fn export(data: &[u8]) {
    let dir = StoreDir::default();
    let mut input = data;
    for _ in 0..64 {
        match read_exported_path(&dir, &mut input) {
            Ok(Some(path)) => {
                assert_eq!(path.info.nar_size, path.nar.len() as u64);
                nar::parse_nar(&mut path.nar.as_slice(), &mut Drain).expect("NAR parses again");
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// `nix-cache-info`: any text gives a store directory or none, never a panic.
pub(crate) fn cache_info(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(dir) = cache_info_store_dir(&text) {
        assert!(text.contains(dir));
    }
}

/// Keys and signatures: the first line is a key, the second a signature, the rest data.
/// Parsing never panics; a parsed key prints back to itself; a secret key's signature
/// verifies with its public key, and a signature check of anything never panics.
pub(crate) fn keys(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let key = parts.next().unwrap_or_default();
    let sig = parts.next().unwrap_or_default();
    let message = parts.next().unwrap_or_default().as_bytes();
    if let Ok(public) = PublicKey::parse(key) {
        assert_eq!(
            PublicKey::parse(&public.to_text()).ok(),
            Some(public.clone())
        );
        let _ = public.verify(message, sig);
    }
    if let Ok(secret) = SecretKey::parse(key) {
        let signature = secret.sign(message);
        assert!(secret.public_key().verify(message, &signature));
        let again = SecretKey::parse(&secret.to_text()).expect("printed key parses");
        assert_eq!(again.public_key(), secret.public_key());
    }
}
