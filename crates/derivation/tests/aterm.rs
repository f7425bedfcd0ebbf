//! ATerm reader/writer tests: proptest round trips over random derivations, and typed errors
//! with byte offsets for malformed input.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use nixkit_derivation::{
    fill_output_paths, hash_derivation_modulo, parse_derivation, Derivation, DerivationOutput,
    DrvHashMemo, HashModuloError, ParseErrorKind,
};
use nixkit_store::{
    ContentAddress, ContentAddressMethod, FileIngestionMethod, Hash, HashAlgo, StoreDir, StorePath,
};
use proptest::prelude::*;

fn store_path(i: u8, name: &str) -> StorePath {
    StorePath::from_digest(&[i; 20], name).unwrap()
}

fn text_strategy() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 \"\\\\\n\r\t$ü{}=,()\\[\\]]{0,12}"
}

fn output_strategy() -> impl Strategy<Value = DerivationOutput> {
    let algo = prop_oneof![
        Just(HashAlgo::Md5),
        Just(HashAlgo::Sha1),
        Just(HashAlgo::Sha256),
        Just(HashAlgo::Sha512)
    ];
    let method = prop_oneof![
        Just(ContentAddressMethod::Fixed(FileIngestionMethod::Flat)),
        Just(ContentAddressMethod::Fixed(FileIngestionMethod::Recursive)),
    ];
    prop_oneof![
        any::<u8>().prop_map(|i| DerivationOutput::InputAddressed {
            path: store_path(i, "o")
        }),
        Just(DerivationOutput::Deferred),
        (method.clone(), algo.clone())
            .prop_map(|(method, algo)| DerivationOutput::CaFloating { method, algo }),
        (method.clone(), algo.clone())
            .prop_map(|(method, algo)| DerivationOutput::Impure { method, algo }),
        (method, algo, any::<u8>()).prop_map(|(method, algo, seed)| {
            let hash = Hash::digest(algo, &[seed]);
            DerivationOutput::CaFixed(ContentAddress { method, hash })
        }),
    ]
}

prop_compose! {
    fn derivation_strategy()(
        outputs in proptest::collection::btree_map("[a-z]{1,5}", output_strategy(), 1..4),
        input_drvs in proptest::collection::btree_map(
            any::<u8>().prop_map(|i| store_path(i, "dep.drv")),
            proptest::collection::btree_set("[a-z]{1,4}", 1..3),
            0..3),
        input_srcs in proptest::collection::btree_set(any::<u8>().prop_map(|i| store_path(i, "src")), 0..3),
        system in "[a-z0-9_-]{0,12}",
        builder in text_strategy(),
        args in proptest::collection::vec(text_strategy(), 0..4),
        env in proptest::collection::btree_map(text_strategy(), text_strategy(), 0..5),
    ) -> Derivation {
        Derivation { name: "random".into(), outputs, input_drvs, input_srcs, system, builder, args, env }
    }
}

proptest! {
    #[test]
    fn write_parse_round_trip(drv in derivation_strategy()) {
        let store = StoreDir::default();
        let text = drv.to_aterm(&store).unwrap();
        let back = parse_derivation(&store, "random", text.as_bytes()).unwrap();
        prop_assert_eq!(&back, &drv);
        prop_assert_eq!(back.to_aterm(&store).unwrap(), text);
    }

    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_derivation(&StoreDir::default(), "x", &bytes);
    }

    #[test]
    fn truncations_are_errors(drv in derivation_strategy(), cut in 0usize..1000) {
        let store = StoreDir::default();
        let text = drv.to_aterm(&store).unwrap();
        let cut = cut % text.len();
        prop_assert!(parse_derivation(&store, "random", &text.as_bytes()[..cut]).is_err());
    }
}

const GOOD: &str = r#"Derive([("out","/nix/store/kygnmi98hf8y66vibinpcwvwhzci5cnk-foo","","")],[],[],"x86_64-linux","/bin/sh",["-c","echo"],[("builder","/bin/sh"),("name","foo"),("out","/nix/store/kygnmi98hf8y66vibinpcwvwhzci5cnk-foo"),("system","x86_64-linux")])"#;

fn error_at(text: &str) -> (usize, ParseErrorKind) {
    let e = parse_derivation(&StoreDir::default(), "foo", text.as_bytes()).unwrap_err();
    (e.offset, e.kind)
}

#[test]
fn errors_carry_offsets() {
    let store = StoreDir::default();
    let drv = parse_derivation(&store, "foo", GOOD.as_bytes()).unwrap();
    assert_eq!(drv.to_aterm(&store).unwrap(), GOOD);

    let (offset, kind) = error_at(&GOOD.replace("Derive(", "Derivx("));
    assert_eq!(
        (offset, kind),
        (0, ParseErrorKind::Expected("DrvWithVersion("))
    );

    let bad_path = GOOD.replacen(
        "kygnmi98hf8y66vibinpcwvwhzci5cnk-foo\",\"\"",
        "kygnmi98hf8y66vibinpcwvwhzci5cnk foo\",\"\"",
        1,
    );
    let (offset, kind) = error_at(&bad_path);
    assert_eq!(offset, GOOD.find("\"/nix/store").unwrap());
    assert!(matches!(kind, ParseErrorKind::InvalidStorePath(_)));

    let (offset, kind) = error_at(&format!("{GOOD} "));
    assert_eq!((offset, kind), (GOOD.len(), ParseErrorKind::TrailingData));

    let unsorted = GOOD.replace(
        r#"("builder","/bin/sh"),("name","foo")"#,
        r#"("name","foo"),("builder","/bin/sh")"#,
    );
    let (offset, kind) = error_at(&unsorted);
    assert_eq!(offset, unsorted.find(r#""builder""#).unwrap());
    assert_eq!(kind, ParseErrorKind::NotSorted("environment variables"));

    let semicolon = GOOD.replace(r#"["-c","echo"]"#, r#"["-c";"echo"]"#);
    let (offset, kind) = error_at(&semicolon);
    assert_eq!(offset, semicolon.find(';').unwrap());
    assert_eq!(kind, ParseErrorKind::Expected("]"));

    let cut = &GOOD[..GOOD.len() - 5];
    let (offset, kind) = error_at(cut);
    assert_eq!(offset, cut.rfind('"').unwrap());
    assert_eq!(kind, ParseErrorKind::UnterminatedString);

    let bad_hash = GOOD.replace(r#"-foo","","")"#, r#"-foo","r:sha256","abc")"#);
    let (offset, kind) = error_at(&bad_hash);
    assert_eq!(offset, bad_hash.find(r#""abc""#).unwrap());
    assert!(matches!(kind, ParseErrorKind::InvalidHash(_)));

    let bad_algo = GOOD.replace(r#"-foo","","")"#, r#"-foo","r:sha257","abc")"#);
    assert!(matches!(
        error_at(&bad_algo).1,
        ParseErrorKind::InvalidHash(_)
    ));

    // A fixed output must sit at its computed path.
    let hex = Hash::digest(HashAlgo::Sha256, b"").to_base16();
    let wrong_path = GOOD.replace(r#"-foo","","")"#, &format!(r#"-foo","r:sha256","{hex}")"#));
    assert!(matches!(
        error_at(&wrong_path).1,
        ParseErrorKind::FixedOutputPathMismatch { .. }
    ));

    let versioned = GOOD.replace("Derive(", "DrvWithVersion(");
    assert_eq!(
        error_at(&versioned),
        (0, ParseErrorKind::UnsupportedVersion)
    );
}

#[test]
fn missing_inputs_are_typed_errors() {
    let store = StoreDir::default();
    let mut drv = parse_derivation(&store, "foo", GOOD.as_bytes()).unwrap();
    let input = store_path(7, "dep.drv");
    drv.input_drvs
        .insert(input.clone(), BTreeSet::from(["out".to_owned()]));
    let none: BTreeMap<StorePath, Derivation> = BTreeMap::new();
    let err =
        hash_derivation_modulo(&drv, &store, true, &none, &mut DrvHashMemo::default()).unwrap_err();
    assert!(matches!(err, HashModuloError::MissingInput { .. }));

    // The dependency exists but lacks the requested output.
    let mut dep = parse_derivation(&store, "foo", GOOD.as_bytes()).unwrap();
    dep.name = "dep".into();
    dep.outputs = BTreeMap::from([("lib".to_owned(), DerivationOutput::Deferred)]);
    let source = HashMap::from([(input, dep)]);
    let err =
        fill_output_paths(&mut drv, &store, &source, &mut DrvHashMemo::default()).unwrap_err();
    assert!(matches!(err, HashModuloError::MissingOutput { .. }));
}
