//! The regex part of the p-regex workload (benches/workloads/p-regex.nix)
//! without the evaluator, for measuring the engine with callgrind.

use nixkit_regex::Regex;

fn main() {
    let version = Regex::new(br"([a-z]+)-([0-9]+)\.([0-9]+)-(.*)").expect("valid");
    let words = Regex::new(b"[-. _/]+").expect("valid");
    let tail = Regex::new(b".*/([^/]*)").expect("valid");
    let empties = Regex::new(b"x*").expect("valid");
    let mut total = 0usize;
    for i in 0..20000u64 {
        let line = format!("pkg-{i}.{}-foo_bar baz{} /nix/store/x{i}", i * 7, i / 3);
        let b = line.as_bytes();
        total += usize::from(version.full_match(b).is_some());
        total += words.find_all(b).len();
        total += usize::from(tail.full_match(b).is_some());
        total += empties.find_all(&b[..12.min(b.len())]).len();
    }
    println!("{total}");
}
