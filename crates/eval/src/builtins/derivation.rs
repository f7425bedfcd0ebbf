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
    primop!("fetchurl", 1, crate::builtins::fetch::fetchurl),
    primop!("fetchTarball", 1, crate::builtins::fetch::fetch_tarball),
    primop!("fetchGit", 1, crate::builtins::fetch::fetch_git),
    primop!("fetchMercurial", 1, unsupported_fetcher),
    primop!("fetchTree", 1, crate::builtins::fetch::fetch_tree),
];

static DERIVATION: PrimOp = primop!("derivation", 1, derivation);

/// The user-facing `derivation` function: calls `derivationStrict` and
/// builds one attribute set per output sharing the input attributes. The
/// layout is chosen so that positions in error traces (lines 36 and 48–50)
/// are where CppNix's own wrapper reports them.
const DERIVATION_NIX: &str = r#"# `derivation`: the documented Nix-level wrapper around `derivationStrict`.
#
# Given the attributes of a derivation, it returns the attribute set of its
# first output. Every output's set contains:
#   - all the attributes passed in,
#   - one attribute per output name, holding that output's set,
#   - `all`, the list of every output's set,
#   - `drvAttrs`, the attributes passed in,
#   - `outPath` and `drvPath`, strings with string context,
#   - `type = "derivation"` and `outputName`.
#
# Nothing is computed until `outPath` or `drvPath` is needed: both select from
# the one `derivationStrict` call, which instantiates the store derivation.
#
# This file is part of nixkit (MIT OR Apache-2.0). Its line layout matters:
# error traces point into it, and tests compare them with CppNix's.
#
#
#
#
#
#
#
#
#
#
#
#
#
#
#
#
drvAttrs@{ outputs ? [ "out" ], ... }:
let

  strict = derivationStrict drvAttrs;

  commonAttrs =
    drvAttrs
    // (builtins.listToAttrs outputsList)
    // {
      all = map (x: x.value) outputsList;
      inherit drvAttrs;
    };

  outputToAttrListElement = outputName: {
    name = outputName;
    value = commonAttrs // {
      outPath = strict.${outputName};
      drvPath = strict.drvPath;
      type = "derivation";
      inherit outputName;
    };
  };

  outputsList = map outputToAttrListElement outputs;

in
(builtins.head outputsList).value
"#;

/// The value bound to `derivation`.
pub(crate) fn derivation_value() -> Value {
    Value::PrimOp(&DERIVATION)
}

fn derivation(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let f = match &s.derivation_fn {
        Some(f) => f.clone(),
        None => {
            let f = s.eval_source(
                DERIVATION_NIX,
                Origin::File("«nix-internal»/derivation-internal.nix".into()),
                "/",
            )?;
            s.derivation_fn = Some(f.clone());
            f
        }
    };
    s.call(&f, a, pos)
}

fn derivation_strict(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let attrs = Args::new(a, "derivationStrict", pos).attrs(s, 0)?;
    crate::derivation::derivation_strict(s, attrs, pos)
}

fn placeholder(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let output = Args::new(a, "placeholder", pos).string(s, 0)?;
    let hash = sha256(format!("nix-output:{}", output.as_str()).as_bytes());
    Ok(Value::string(format!("/{}", nix32(&hash))))
}

fn unsupported_fetcher(_s: &mut EvalState, _a: &[Value], pos: Pos) -> EvalResult<Value> {
    Err(EvalError::eval("fetchMercurial is not supported by this evaluator").at(pos))
}
