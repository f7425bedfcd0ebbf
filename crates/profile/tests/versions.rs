//! The crate's `parseDrvName`/`compareVersions` agree with the evaluator's builtins on many
//! random names and versions drawn from the characters that matter (digits, letters,
//! `pre`, `.`, `-`).
#![allow(clippy::unwrap_used, missing_docs)]

use nixkit_eval::{Evaluator, ValueView};
use nixkit_profile::{compare_versions, parse_drv_name};

fn random_version(rng: &mut fastrand::Rng) -> String {
    const PARTS: &[&str] = &[
        "0",
        "1",
        "2",
        "10",
        "007",
        "a",
        "b",
        "pre",
        "rc",
        ".",
        ".",
        "-",
        "-",
        "x1",
        "99999999999999999999",
    ];
    (0..rng.usize(0..6))
        .map(|_| PARTS[rng.usize(..PARTS.len())])
        .collect()
}

fn nix_str(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('$', "\\$")
    )
}

#[test]
fn versions_and_names_agree_with_the_evaluator() {
    let mut rng = fastrand::Rng::with_seed(14);
    let mut ev = Evaluator::builder().build();
    let mut pairs = Vec::new();
    for _ in 0..400 {
        pairs.push((random_version(&mut rng), random_version(&mut rng)));
    }
    let list: Vec<String> = pairs
        .iter()
        .map(|(a, b)| format!("(builtins.compareVersions {} {})", nix_str(a), nix_str(b)))
        .collect();
    let v = ev
        .eval_str(&format!("[ {} ]", list.join(" ")), "/")
        .unwrap();
    ev.force_deep(&v).unwrap();
    let Some(ValueView::List(items)) = v.view() else {
        panic!()
    };
    for ((a, b), item) in pairs.iter().zip(items.iter()) {
        let Some(ValueView::Int(want)) = item.view() else {
            panic!()
        };
        assert_eq!(
            compare_versions(a, b) as i64,
            want,
            "compareVersions {a:?} {b:?}"
        );
    }
    for (a, b) in &pairs {
        let name = format!("pkg{a}-{b}");
        let v = ev
            .eval_str(&format!("builtins.parseDrvName {}", nix_str(&name)), "/")
            .unwrap();
        ev.force_deep(&v).unwrap();
        let get = |ev: &mut Evaluator, k: &str| {
            let x = ev.get_attr(&v, k).unwrap().unwrap();
            let x = ev.force(&x).unwrap();
            match x.view() {
                Some(ValueView::String(s)) => s.as_str().to_owned(),
                _ => panic!(),
            }
        };
        let parsed = parse_drv_name(&name);
        assert_eq!(parsed.pname, get(&mut ev, "name"), "{name}");
        assert_eq!(parsed.version, get(&mut ev, "version"), "{name}");
    }
}
