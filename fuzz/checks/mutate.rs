//! A small, dependency-free mutator for the bounded fuzz smoke tests that `cargo test` runs
//! (cargo-fuzz needs a nightly compiler, which CI does not have): valid seed inputs are
//! mutated the way a fuzzer would (bit flips, interesting lengths, insertions, deletions,
//! splices) with a fixed-seed generator, so every run is reproducible.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// xorshift64*: deterministic and fast.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Values a length or count field is most likely to break on.
const INTERESTING: &[u64] = &[
    0,
    1,
    7,
    8,
    9,
    16,
    255,
    256,
    4095,
    4096,
    65536,
    1 << 31,
    1 << 32,
    1 << 63,
    u64::MAX,
    u64::MAX - 7,
];

/// One to four random mutations of `input`, with material spliced from `seeds`.
pub(crate) fn mutate(rng: &mut Rng, input: &[u8], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next() as u8;
            }
            2 if len >= 8 => {
                // An interesting little-endian u64 at an 8-aligned offset (NAR/export fields).
                let i = rng.below(len / 8) * 8;
                let v = INTERESTING[rng.below(INTERESTING.len())];
                data[i..i + 8].copy_from_slice(&v.to_le_bytes());
            }
            3 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                data.splice(i..i, bytes);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                data.drain(i..i + n);
            }
            5 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let copy = data[i..i + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, copy);
            }
            6 => data.truncate(rng.below(len + 1)),
            7 if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let i = rng.below(other.len());
                    let n = 1 + rng.below((other.len() - i).min(128));
                    let at = rng.below(len + 1);
                    data.splice(at..at, other[i..i + n].iter().copied());
                }
            }
            _ if len > 0 => {
                // Text-level: a byte that matters to line and field syntax.
                let i = rng.below(len);
                data[i] = b"\n:;() ,\"\\/.\0"[rng.below(12)];
            }
            _ => {}
        }
    }
    data
}

/// The time budget of one smoke test: `NIXKIT_FUZZ_SECONDS` (default 3).
pub(crate) fn budget() -> Duration {
    let secs = std::env::var("NIXKIT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0f64);
    Duration::from_secs_f64(secs)
}

/// Runs `check` on every seed, then on mutations of the seeds until the budget is spent
/// (at least `min_runs`). A panicking input is saved under the system temporary directory
/// and the test fails naming it, so it can be added to the replayed `test_data`.
pub(crate) fn run(name: &str, seeds: &[Vec<u8>], min_runs: usize, check: impl Fn(&[u8])) -> usize {
    let start = Instant::now();
    let mut rng = Rng::new(0x6e69_786b_6974 ^ name.len() as u64);
    let mut runs = 0;
    let run_one = |input: &[u8]| {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(input)));
        if result.is_err() {
            let file = std::env::temp_dir().join(format!("nixkit-fuzz-{name}-crash"));
            let _ = std::fs::write(&file, input);
            panic!("{name}: an input panics; saved as {}", file.display());
        }
    };
    for seed in seeds {
        run_one(seed);
        runs += 1;
    }
    while runs < min_runs || start.elapsed() < budget() {
        let base = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, base, seeds);
        run_one(&input);
        runs += 1;
    }
    runs
}

/// The kept inputs of fuzz target `name`: every file in `dir/name`.
pub(crate) fn kept_inputs(dir: &std::path::Path, name: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir.join(name)) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect();
    out.sort();
    out
}
