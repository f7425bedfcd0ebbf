//! `builtins.toXML` and `--xml` on random values, compared with CppNix's
//! output when `nix-instantiate` is on `PATH` (skipped otherwise).

use std::process::Command;

use nixkit_eval::cli::{parse_args, run, CliEnv};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (-3i64..300).prop_map(|i| format!("({i})")),
        prop::sample::select(vec!["0.5", "1.0e20", "(-2.25)", "100.0", "0.1"])
            .prop_map(String::from),
        prop::sample::select(vec![
            "\"\"",
            "\"a b\"",
            "\"<&>\"",
            "\"q\\\"'\"",
            "\"t\\tr\\rn\\n\"",
            "\"é\"",
        ])
        .prop_map(String::from),
        prop::sample::select(vec![
            "null",
            "true",
            "false",
            "/a/b",
            "(x: x)",
            "({ a, b ? 1 }: a)",
            "({ c, ... }@d: c)",
            "(e@{ ... }: e)",
            "builtins.add",
            "(builtins.add 1)",
        ])
        .prop_map(String::from),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[ {} ]", v.join(" "))),
            prop::collection::btree_map(
                prop::sample::select(vec!["a", "b", "type", "drvPath", "outPath", "x-y"]),
                inner,
                0..4
            )
            .prop_map(|m| {
                let body: String = m.iter().map(|(k, v)| format!("{k} = {v}; ")).collect();
                format!("{{ {body}}}")
            }),
            Just(
                "{ type = \"derivation\"; drvPath = \"/d\"; outPath = \"/o\"; name = \"n\"; }"
                    .to_string()
            ),
        ]
    })
}

fn cppnix(args: &[&str]) -> Option<(bool, String)> {
    let out = Command::new("nix-instantiate").args(args).output().ok()?;
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

fn nixkit(args: &[&str]) -> (bool, String) {
    let opts = parse_args(args).expect("valid flags");
    let (mut out, mut err) = (String::new(), String::new());
    let code = run(&opts, &CliEnv::new("/"), &mut out, &mut err);
    (code == 0, out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn xml_matches_cppnix(v in value()) {
        let to_xml = format!("builtins.toXML ({v})");
        let runs: [Vec<&str>; 3] = [
            vec!["--eval", "--strict", "-E", &to_xml],
            vec!["--eval", "--xml", "--no-location", "-E", &v],
            vec!["--eval", "--xml", "--strict", "--no-location", "-E", &v],
        ];
        for args in &runs {
            let Some(want) = cppnix(args) else {
                println!("skipped: nix-instantiate not on PATH");
                return Ok(());
            };
            let got = nixkit(args);
            // Both must fail alike (e.g. a value CppNix cannot write);
            // error texts are compared by the data-driven cases.
            if want.0 || got.0 {
                prop_assert_eq!(&got, &want, "{:?}", args);
            }
        }
    }
}
