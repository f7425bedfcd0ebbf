//! A streaming hasher ([`HashSink`]) that implements [`std::io::Write`] and counts bytes.

use std::io;

use md5::Digest as _;

use crate::hash::{Hash, HashAlgo};

enum State {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

/// Hashes everything written to it; [`HashSink::finish`] returns the hash and the byte count.
///
/// ```
/// use std::io::Write;
/// use nixkit_store::{HashAlgo, HashSink};
/// let mut sink = HashSink::new(HashAlgo::Sha256);
/// sink.write_all(b"hello").unwrap();
/// let (hash, size) = sink.finish();
/// assert_eq!(size, 5);
/// assert_eq!(hash.to_nix32().len(), 52);
/// ```
pub struct HashSink {
    state: State,
    written: u64,
}

impl HashSink {
    /// A fresh hasher for `algo`.
    pub fn new(algo: HashAlgo) -> Self {
        let state = match algo {
            HashAlgo::Md5 => State::Md5(md5::Md5::new()),
            HashAlgo::Sha1 => State::Sha1(sha1::Sha1::new()),
            HashAlgo::Sha256 => State::Sha256(sha2::Sha256::new()),
            HashAlgo::Sha512 => State::Sha512(sha2::Sha512::new()),
        };
        Self { state, written: 0 }
    }

    /// The algorithm being computed.
    pub fn algo(&self) -> HashAlgo {
        match self.state {
            State::Md5(_) => HashAlgo::Md5,
            State::Sha1(_) => HashAlgo::Sha1,
            State::Sha256(_) => HashAlgo::Sha256,
            State::Sha512(_) => HashAlgo::Sha512,
        }
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.written += data.len() as u64;
        match &mut self.state {
            State::Md5(h) => h.update(data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
            State::Sha512(h) => h.update(data),
        }
    }

    /// Bytes fed so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// The hash of everything fed, and how many bytes that was.
    pub fn finish(self) -> (Hash, u64) {
        let algo = self.algo();
        let mut bytes = [0u8; 64];
        let len = algo.digest_len();
        match self.state {
            State::Md5(h) => bytes[..len].copy_from_slice(&h.finalize()),
            State::Sha1(h) => bytes[..len].copy_from_slice(&h.finalize()),
            State::Sha256(h) => bytes[..len].copy_from_slice(&h.finalize()),
            State::Sha512(h) => bytes[..len].copy_from_slice(&h.finalize()),
        }
        let hash = Hash::from_raw(algo, bytes);
        (hash, self.written)
    }
}

impl io::Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.update(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
