//! Reference scanning: which of a set of 32-character store path hash parts occur in a byte
//! stream. Only runs of at least 32 nix32 characters can match, so the scanner skips ahead
//! past any byte that is not nix32 and looks up a candidate only inside such runs.

use std::collections::{BTreeSet, HashMap};
use std::io;

use crate::nixbase32::is_nix32_byte;
use crate::store_path::{StorePath, HASH_PART_LEN};

/// Scans bytes written to it (via [`RefScanner::scan`] or [`std::io::Write`]) for hash parts.
///
/// ```
/// use nixkit_store::{RefScanner, StorePath};
/// let p = StorePath::from_base_name("kygnmi98hf8y66vibinpcwvwhzci5cnk-foo").unwrap();
/// let mut scanner = RefScanner::new([p.clone()]);
/// scanner.scan(b"#!/nix/store/kygnmi98hf8y66");
/// scanner.scan(b"vibinpcwvwhzci5cnk-foo/bin/sh");
/// assert_eq!(scanner.found_paths(), [p].into());
/// ```
#[derive(Debug, Clone)]
pub struct RefScanner {
    targets: HashMap<[u8; HASH_PART_LEN], usize>,
    paths: Vec<StorePath>,
    found: Vec<bool>,
    found_count: usize,
    /// The last up to 31 bytes seen, if they are all nix32 (a possible match prefix).
    tail: Vec<u8>,
}

impl RefScanner {
    /// A scanner looking for the hash parts of `paths`.
    pub fn new(paths: impl IntoIterator<Item = StorePath>) -> Self {
        let paths: Vec<StorePath> = paths.into_iter().collect();
        let targets = paths
            .iter()
            .enumerate()
            .map(|(i, p)| (*p.hash_part_bytes(), i))
            .collect();
        Self {
            targets,
            found: vec![false; paths.len()],
            paths,
            found_count: 0,
            tail: Vec::with_capacity(2 * HASH_PART_LEN),
        }
    }

    /// Feeds the next chunk of the stream.
    pub fn scan(&mut self, chunk: &[u8]) {
        if self.found_count == self.paths.len() || chunk.is_empty() {
            return;
        }
        // Candidates straddling the previous chunk and this one.
        if !self.tail.is_empty() {
            let take = chunk.len().min(HASH_PART_LEN - 1);
            let mut joined = std::mem::take(&mut self.tail);
            let old_len = joined.len();
            joined.extend_from_slice(&chunk[..take]);
            self.scan_slice(&joined);
            joined.truncate(old_len);
            self.tail = joined;
        }
        self.scan_slice(chunk);
        // Keep the trailing nix32 run (up to 31 bytes) for the next chunk.
        let run = chunk
            .iter()
            .rev()
            .take(HASH_PART_LEN - 1)
            .take_while(|&&b| is_nix32_byte(b))
            .count();
        if run == chunk.len() && run < HASH_PART_LEN - 1 {
            // The whole chunk is a short nix32 run: it extends the previous tail.
            let prev = self.tail.len();
            self.tail.extend_from_slice(chunk);
            let excess = (prev + run).saturating_sub(HASH_PART_LEN - 1);
            self.tail.drain(..excess);
        } else {
            self.tail.clear();
            self.tail.extend_from_slice(&chunk[chunk.len() - run..]);
        }
    }

    fn scan_slice(&mut self, buf: &[u8]) {
        let mut start = 0;
        // Bytes in [start, valid_end) are known to be nix32.
        let mut valid_end = 0;
        while start + HASH_PART_LEN <= buf.len() {
            let end = start + HASH_PART_LEN;
            // Check the window from its end backwards, skipping past any bad byte.
            let mut bad = None;
            let mut i = end;
            while i > valid_end.max(start) {
                i -= 1;
                if !is_nix32_byte(buf[i]) {
                    bad = Some(i);
                    break;
                }
            }
            if let Some(i) = bad {
                start = i + 1;
                valid_end = start;
                continue;
            }
            valid_end = end;
            let mut key = [0u8; HASH_PART_LEN];
            key.copy_from_slice(&buf[start..end]);
            if let Some(&idx) = self.targets.get(&key) {
                if !self.found[idx] {
                    self.found[idx] = true;
                    self.found_count += 1;
                }
            }
            start += 1;
        }
    }

    /// The paths whose hash parts were seen so far.
    pub fn found_paths(&self) -> BTreeSet<StorePath> {
        self.paths
            .iter()
            .zip(&self.found)
            .filter(|(_, &f)| f)
            .map(|(p, _)| p.clone())
            .collect()
    }
}

impl io::Write for RefScanner {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.scan(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Which of `paths` have their hash part somewhere in `data`.
pub fn scan_for_references(
    data: &[u8],
    paths: impl IntoIterator<Item = StorePath>,
) -> BTreeSet<StorePath> {
    let mut scanner = RefScanner::new(paths);
    scanner.scan(data);
    scanner.found_paths()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn path(hash: &str) -> StorePath {
        StorePath::from_base_name(&format!("{hash}-x")).unwrap()
    }

    /// The obvious quadratic search, to check the fast one against.
    fn naive(data: &[u8], paths: &[StorePath]) -> BTreeSet<StorePath> {
        paths
            .iter()
            .filter(|p| data.windows(32).any(|w| w == p.hash_part_bytes()))
            .cloned()
            .collect()
    }

    #[test]
    fn finds_hash_in_runs() {
        let a = path("kygnmi98hf8y66vibinpcwvwhzci5cnk");
        let b = path("00000000000000000000000000000000");
        let data = b"xx0kygnmi98hf8y66vibinpcwvwhzci5cnk0 and 000000000000000000000000000000";
        assert_eq!(
            scan_for_references(data, [a.clone(), b.clone()]),
            [a].into()
        );
    }

    proptest! {
        #[test]
        fn matches_naive_search_across_chunks(
            noise in proptest::collection::vec(prop_oneof![Just(b'0'), Just(b'1'), Just(b'-'), Just(b'a')], 0..300),
            inserts in proptest::collection::vec((0usize..300, 0usize..3), 0..4),
            split in proptest::collection::vec(1usize..50, 1..10),
        ) {
            let hashes = [
                path("01010101010101010101010101010101"),
                path("a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"),
                path("kygnmi98hf8y66vibinpcwvwhzci5cnk"),
            ];
            let mut data = noise;
            for (pos, which) in inserts {
                let pos = pos.min(data.len());
                let h = hashes[which].hash_part_bytes();
                data.splice(pos..pos, h.iter().copied());
            }
            let mut scanner = RefScanner::new(hashes.clone());
            let mut rest = data.as_slice();
            for n in split.iter().cycle() {
                if rest.is_empty() { break; }
                let (c, r) = rest.split_at((*n).min(rest.len()));
                scanner.scan(c);
                rest = r;
            }
            prop_assert_eq!(scanner.found_paths(), naive(&data, &hashes));
        }
    }
}
