//! `derivationStrict`: turning a derivation's attributes into a store
//! derivation. Not implemented yet: it needs ATerm serialisation and
//! hash-modulo computation, which the workspace's `nixkit-derivation` crate is
//! meant to provide; until it is wired in, calls fail with a clear error.

use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::source::Pos;
use crate::value::{Attrs, Value};

pub(crate) fn derivation_strict(_s: &mut EvalState, _attrs: &Attrs, pos: Pos) -> EvalResult<Value> {
    Err(EvalError::eval("derivationStrict is not supported by this evaluator yet").at(pos))
}
