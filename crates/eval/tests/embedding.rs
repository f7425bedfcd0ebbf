//! The embedding API: serde in both directions, extra builtins (Rust and
//! Nix), the step budget, cancellation from another thread, and evaluators
//! on several threads sharing a parse cache.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nixkit_eval::serde::{from_value, from_value_named, to_value, DeErrorKind};
use nixkit_eval::{ErrorKind, EvalError, Evaluator, ParseCache, Value};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    name: String,
    services: BTreeMap<String, Service>,
    log_level: Level,
    mode: Mode,
    ratio: f64,
    tags: Vec<String>,
    owner: Option<String>,
    limits: (u32, u32),
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
struct Service {
    port: u16,
    enable: bool,
    #[serde(default)]
    replicas: Option<u8>,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Debug,
    Info,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
enum Mode {
    Standalone,
    Cluster { nodes: u32 },
    Proxy(String),
}

const CONFIG: &str = r#"
let base = 8000; in {
  name = "demo";
  services = {
    web = { port = base + 80; enable = true; replicas = 3; };
    db = { port = 5432; enable = false; replicas = null; };
  };
  logLevel = "debug";
  mode = { Cluster = { nodes = 2 + 1; }; };
  ratio = 1;
  tags = [ "a" ("b" + "c") ];
  limits = [ 1 2 ];
  # never forced: unknown attributes stay lazy
  unused = throw "must not be evaluated";
}
"#;

fn eval(ev: &mut Evaluator, text: &str) -> Value {
    ev.eval_str(text, "/")
        .unwrap_or_else(|e| panic!("{}", e.render(false)))
}

#[test]
fn deserializes_nested_structs_lazily() {
    let mut ev = Evaluator::builder().pure(true).build();
    let v = eval(&mut ev, CONFIG);
    let c: Config = from_value(ev.state(), &v).unwrap();
    assert_eq!(c.name, "demo");
    assert_eq!(
        c.services["web"],
        Service {
            port: 8080,
            enable: true,
            replicas: Some(3)
        }
    );
    assert_eq!(c.services["db"].replicas, None);
    assert_eq!(c.log_level, Level::Debug);
    assert_eq!(c.mode, Mode::Cluster { nodes: 3 });
    assert_eq!(c.ratio, 1.0);
    assert_eq!(c.tags, ["a", "bc"]);
    assert_eq!(c.owner, None);
    assert_eq!(c.limits, (1, 2));
}

#[test]
fn enums_from_strings_and_single_attribute_sets() {
    let mut ev = Evaluator::builder().build();
    let v = eval(
        &mut ev,
        r#"[ "Standalone" { Proxy = "x"; } { Cluster.nodes = 1; } ]"#,
    );
    let modes: Vec<Mode> = from_value(ev.state(), &v).unwrap();
    assert_eq!(
        modes,
        [
            Mode::Standalone,
            Mode::Proxy("x".into()),
            Mode::Cluster { nodes: 1 }
        ]
    );
    let bad = eval(&mut ev, r#"{ a = 1; b = 2; }"#);
    let err = from_value::<Mode>(ev.state(), &bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "at the top level: expected enum Mode (a string or a set with one attribute), found a set"
    );
    let unknown = eval(&mut ev, r#""Nope""#);
    let err = from_value::<Mode>(ev.state(), &unknown).unwrap_err();
    assert!(err.to_string().contains("unknown variant `Nope`"), "{err}");
}

#[test]
fn errors_name_the_attribute_path() {
    let mut ev = Evaluator::builder().build();
    let v = eval(
        &mut ev,
        &CONFIG.replace("port = base + 80;", "port = \"80\";"),
    );
    let err = from_value_named::<Config>(ev.state(), &v, "config").unwrap_err();
    assert_eq!(
        err.to_string(),
        "at config.services.web.port: expected u16, found a string"
    );
    assert_eq!(err.path(), Some("config.services.web.port"));
    assert!(matches!(err.kind(), DeErrorKind::Type { .. }));

    let v = eval(&mut ev, &CONFIG.replace("port = 5432;", "port = 70000;"));
    let err = from_value_named::<Config>(ev.state(), &v, "config").unwrap_err();
    assert_eq!(
        err.to_string(),
        "at config.services.db.port: expected u16, found 70000 (out of range)"
    );

    let v = eval(&mut ev, &CONFIG.replace("tags = [ \"a\"", "tags = [ 1"));
    let err = from_value_named::<Config>(ev.state(), &v, "config").unwrap_err();
    assert_eq!(
        err.to_string(),
        "at config.tags[0]: expected a string, found an integer"
    );

    let v = eval(&mut ev, &CONFIG.replace("name = \"demo\";", ""));
    let err = from_value_named::<Config>(ev.state(), &v, "config").unwrap_err();
    assert_eq!(err.to_string(), "at config: missing field `name`");

    // Evaluation errors keep the Nix error.
    let v = eval(
        &mut ev,
        &CONFIG.replace("ratio = 1;", "ratio = throw \"no ratio\";"),
    );
    let err = from_value_named::<Config>(ev.state(), &v, "config").unwrap_err();
    assert_eq!(err.to_string(), "at config.ratio: no ratio");
    assert_eq!(
        err.eval_error().map(EvalError::kind),
        Some(ErrorKind::Throw)
    );
}

#[test]
fn serializes_into_nix_values() {
    let c = Config {
        name: "x".into(),
        services: BTreeMap::from([(
            "web".to_string(),
            Service {
                port: 80,
                enable: true,
                replicas: None,
            },
        )]),
        log_level: Level::Info,
        mode: Mode::Proxy("p".into()),
        ratio: 0.5,
        tags: vec!["t".into()],
        owner: Some("me".into()),
        limits: (3, 4),
    };
    let v = to_value(&c).unwrap();
    let mut ev = Evaluator::builder().build();
    assert_eq!(
        ev.print(&v, true).unwrap(),
        "{ limits = [ 3 4 ]; logLevel = \"info\"; mode = { Proxy = \"p\"; }; name = \"x\"; owner = \"me\"; \
         ratio = 0.5; services = { web = { enable = true; port = 80; replicas = null; }; }; tags = [ \"t\" ]; }"
    );
    // Round trip.
    let back: Config = from_value(ev.state(), &v).unwrap();
    assert_eq!(back, c);
    assert!(to_value(&u64::MAX).is_err());
}

#[test]
fn extra_builtins_in_rust_and_nix() {
    let mut ev = Evaluator::builder()
        .builtin("double", 1, |s, args| match s.force(&args[0])? {
            Value::Int(i) => Ok(Value::Int(i * 2)),
            other => Err(EvalError::eval(format!(
                "double: expected an integer, got {}",
                other.show_type()
            ))),
        })
        .builtin("join", 2, |s, args| {
            let parts: Vec<String> = nixkit_eval::serde::from_value(s, &args[1])
                .map_err(|e| EvalError::eval(e.to_string()))?;
            let sep: String = nixkit_eval::serde::from_value(s, &args[0])
                .map_err(|e| EvalError::eval(e.to_string()))?;
            Ok(Value::string(parts.join(&sep)))
        })
        .builtin_nix("quadruple", "x: double (builtins.double x)")
        .build();
    let v = eval(
        &mut ev,
        r#"[ (double 21) (builtins.quadruple 2) (join "-" [ "a" "b" ]) (map double [ 1 2 ]) ]"#,
    );
    assert_eq!(ev.print(&v, true).unwrap(), "[ 42 8 \"a-b\" [ 2 4 ] ]");
    let e = ev.eval_str("double \"x\"", "/").unwrap_err();
    let rendered = e.render(false);
    assert!(
        rendered.contains("while calling the 'double' builtin"),
        "{rendered}"
    );
    assert!(
        rendered.contains("double: expected an integer, got a string"),
        "{rendered}"
    );
}

#[test]
fn step_budget_ends_with_a_typed_error() {
    let mut ev = Evaluator::builder()
        .max_steps(10_000)
        .max_call_depth(1_000_000)
        .build();
    let e = ev
        .eval_str(
            "let f = n: if n == 0 then 0 else 1 + f (n - 1); in f 100000",
            "/",
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StepLimit);
    // A small evaluation fits, after resetting the budget.
    ev.set_step_budget(Some(10_000));
    let v = eval(
        &mut ev,
        "let f = n: if n == 0 then 0 else 1 + f (n - 1); in f 100",
    );
    assert_eq!(ev.print(&v, true).unwrap(), "100");
    assert!(ev.steps_remaining().is_some_and(|left| left < 10_000));
    // Infinite loops end too, and `tryEval` does not catch the limit.
    ev.set_step_budget(Some(5_000));
    let e = ev
        .eval_str("builtins.tryEval (let f = n: f (n + 1); in f 0)", "/")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StepLimit);
}

#[test]
fn cancellation_from_another_thread() {
    let flag = Arc::new(AtomicBool::new(false));
    let mut ev = Evaluator::builder()
        .cancel_flag(flag.clone())
        .max_call_depth(1_000_000)
        .build();
    let setter = std::thread::spawn({
        let flag = flag.clone();
        move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            flag.store(true, Ordering::Relaxed);
        }
    });
    // Runs forever (in constant stack) unless cancelled.
    // 10^10 additions in small lists: far longer than the test runs.
    let e = ev
        .eval_str(
            "let l = builtins.genList (x: x) 100000; in builtins.foldl' (a: i: builtins.foldl' (b: j: b + j) a l) 0 l",
            "/",
        )
        .unwrap_err();
    setter.join().unwrap();
    assert_eq!(e.kind(), ErrorKind::Cancelled);
}

#[test]
fn call_depth_limit_is_an_error() {
    let mut ev = Evaluator::builder().max_call_depth(50).build();
    let e = ev
        .eval_str(
            "let f = n: if n == 0 then 0 else 1 + f (n - 1); in f 1000",
            "/",
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StackOverflow);
}

#[test]
fn evaluators_on_threads_share_a_parse_cache() {
    fn assert_send<T: Send>() {}
    assert_send::<Evaluator>();
    let cache = Arc::new(ParseCache::new());
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib.nix");
    std::fs::write(
        &lib,
        "{ n }: builtins.foldl' (a: b: a + b) 0 (builtins.genList (x: x * n) 1000)",
    )
    .unwrap();
    let lib = lib.to_string_lossy().into_owned();
    let handles: Vec<_> = (1..=4)
        .map(|n| {
            let cache = cache.clone();
            let lib = lib.clone();
            std::thread::spawn(move || {
                let mut ev = Evaluator::builder().parse_cache(cache).build();
                let v = ev
                    .eval_str(&format!("import {lib} {{ n = {n}; }}"), "/")
                    .unwrap();
                ev.print(&v, true).unwrap()
            })
        })
        .collect();
    let results: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results, ["499500", "999000", "1498500", "1998000"]);
    // lib.nix once, plus one entry per distinct `-E` text.
    assert_eq!(cache.len(), 5);
}

/// `<nix/fetchurl.nix>` is nixkit's own corepkg; the `.drv` paths are what
/// CppNix 2.8's `nix-instantiate --readonly-mode --eval` prints.
#[test]
fn corepkgs_fetchurl_matches_cppnix() {
    let mut ev = Evaluator::builder().build();
    let cases = [
        (
            r#"url = "file:///x"; sha256 = "0000000000000000000000000000000000000000000000000000";"#,
            "/nix/store/q48xxxmwnbfxgz3js798lyd49phj948i-x.drv",
        ),
        (
            r#"url = "https://e.org/a.tar.gz"; hash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; unpack = true;"#,
            "/nix/store/qyv22ngydbq3wdn0vg5pwr1l0rg8ibq2-a.tar.gz.drv",
        ),
        (
            r#"url = "https://e.org/c"; sha1 = "0000000000000000000000000000000000000000";"#,
            "/nix/store/7b76l2j2g5h45s7yr3h81g9si437apxv-c.drv",
        ),
    ];
    for (args, drv) in cases {
        let v = eval(
            &mut ev,
            &format!("(import <nix/fetchurl.nix> {{ {args} }}).drvPath"),
        );
        assert_eq!(ev.print(&v, true).unwrap(), format!("\"{drv}\""));
    }
}
