//! The differential fuzzer's CI run: fixed seeds, a bounded time, the
//! crate's pending-fix list; fails on any divergence outside the rules.

use std::time::{Duration, Instant};

use nixkit_difftest::{parse_pending_list, Campaign, CppNix, PENDING_FIX_LIST};

/// Seeds run by CI (each: 60 items); the time bound below stops earlier on a slow machine.
const SEEDS: std::ops::RangeInclusive<u64> = 1..=80;
/// The most this test may take (the CI budget is about 90 s).
const TIME_BOUND: Duration = Duration::from_secs(60);

#[test]
fn nixkit_agrees_with_cppnix_on_generated_expressions() {
    let cppnix = CppNix::default();
    if !cppnix.available() {
        println!("skipped: nix-instantiate (CppNix) not found");
        return;
    }
    let mut campaign = Campaign {
        cppnix,
        fresh_nixkit: Some(CppNix {
            program: env!("CARGO_BIN_EXE_nixkit-difftest").to_string(),
            ..CppNix::default()
        }),
        ..Campaign::default()
    };
    campaign.gen.pending = parse_pending_list(PENDING_FIX_LIST)
        .expect("pending-fix.txt names known classes")
        .into_iter()
        .collect();
    campaign.gen.builtins = campaign
        .cppnix
        .builtin_names()
        .expect("nix-instantiate runs");
    assert!(
        campaign.gen.builtins.contains("map"),
        "CppNix's builtins were not read: {:?}",
        campaign.gen.builtins
    );
    let started = Instant::now();
    let report = campaign
        .run(SEEDS, started + TIME_BOUND)
        .expect("nix-instantiate runs");
    println!(
        "{} seeds, {} items in {:.1} s: {} agree, excluded {:?}, pending {:?}, {} inconclusive, {} CppNix runs",
        report.seeds,
        report.items,
        started.elapsed().as_secs_f64(),
        report.agreed,
        report.excluded,
        report.pending,
        report.inconclusive,
        report.cppnix_runs
    );
    assert!(report.items > 0 && report.agreed > report.items / 2);
    let found: Vec<String> = report.findings.iter().map(|f| f.to_file_text()).collect();
    assert!(
        found.is_empty(),
        "nixkit diverges from CppNix 2.8 (rerun with `cargo run -p nixkit-difftest -- --seed SEED --seconds 10` to save them):\n{}",
        found.join("\n")
    );
}
