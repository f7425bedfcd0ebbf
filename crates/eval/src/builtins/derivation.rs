//! Derivations: the `derivation` wrapper (written in Nix, compiled on first
//! use), `derivationStrict` (through the [`crate::io::EvalStore`]),
//! `placeholder`, and the fetchers, which this evaluator does not provide.

use crate::builtins::{primop, Args};
use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::source::{Origin, Pos};
use crate::store_path::{nix32, sha256};
use crate::value::{PrimOp, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[
    primop!("derivationStrict", 1, derivation_strict),
    primop!("placeholder", 1, placeholder),
    primop!("fetchurl", 1, unsupported_fetcher),
    primop!("fetchTarball", 1, unsupported_fetcher),
    primop!("fetchGit", 1, unsupported_fetcher),
    primop!("fetchMercurial", 1, unsupported_fetcher),
    primop!("fetchTree", 1, unsupported_fetcher),
];

static DERIVATION: PrimOp = primop!("derivation", 1, derivation);

/// The user-facing `derivation` function: calls `derivationStrict` and
/// builds one attribute set per output sharing the input attributes.
const DERIVATION_NIX: &str = r#"
drvAttrs@{ outputs ? [ "out" ], ... }:
let
  strict = derivationStrict drvAttrs;
  perOutput = name: {
    inherit name;
    value = shared // {
      outPath = builtins.getAttr name strict;
      drvPath = strict.drvPath;
      type = "derivation";
      outputName = name;
    };
  };
  outputList = map perOutput outputs;
  shared = drvAttrs // builtins.listToAttrs outputList // {
    all = map (o: o.value) outputList;
    inherit drvAttrs;
  };
in
(builtins.head outputList).value
"#;

/// The value bound to `derivation`.
pub(crate) fn derivation_value() -> Value {
    Value::PrimOp(&DERIVATION)
}

fn derivation(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let f = match &s.derivation_fn {
        Some(f) => f.clone(),
        None => {
            let f = s.eval_source(DERIVATION_NIX, Origin::File("«nix-internal»/derivation-internal.nix".into()), "/")?;
            s.derivation_fn = Some(f.clone());
            f
        }
    };
    s.call(&f, a, pos)
}

fn derivation_strict(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let attrs = Args::new(a, "derivationStrict", pos).attrs(s, 0)?;
    crate::derivation::derivation_strict(s, &attrs, pos)
}

fn placeholder(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let output = Args::new(a, "placeholder", pos).string(s, 0)?;
    let hash = sha256(format!("nix-output:{}", output.as_str()).as_bytes());
    Ok(Value::string(format!("/{}", nix32(&hash))))
}

fn unsupported_fetcher(_s: &mut EvalState, _a: &[Value], pos: Pos) -> EvalResult<Value> {
    Err(EvalError::eval("fetchers are not supported by this evaluator").at(pos))
}
