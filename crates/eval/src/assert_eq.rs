//! Explaining a failed `assert a == b`: CppNix reports the first difference
//! it finds ("string '"x"' is not equal to string '"y"'") with frames for the
//! path to it.

use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::print::show_for_error;
use crate::source::Pos;
use crate::value::Value;

/// The difference found; CppNix reports it without a position (the
/// assertion's frame carries it).
fn differ(msg: String, _pos: Pos) -> EvalError {
    EvalError::new(crate::error::ErrorKind::Assert, msg)
}

impl EvalState {
    /// `Ok(())` if equal, otherwise an error describing the first difference.
    pub(crate) fn assert_equal(&mut self, a: &Value, b: &Value, pos: Pos) -> EvalResult<()> {
        let a = self.force(a)?;
        let b = self.force(b)?;
        let (sa, sb) = (show_for_error(&a), show_for_error(&b));
        match (&a, &b) {
            (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                if self.equal(&a, &b)? {
                    return Ok(());
                }
                Err(differ(
                    format!("{} with value '{sa}' is not equal to {} with value '{sb}'", a.show_type(), b.show_type()),
                    pos,
                ))
            }
            _ if a.type_of() != b.type_of() => Err(differ(
                format!("{} of value '{sa}' is not equal to {} of value '{sb}'", a.show_type(), b.show_type()),
                pos,
            )),
            (Value::Bool(x), Value::Bool(y)) => {
                if x == y {
                    return Ok(());
                }
                Err(differ(format!("boolean '{sa}' is not equal to boolean '{sb}'"), pos))
            }
            (Value::String(x), Value::String(y)) => {
                if x.as_str() == y.as_str() {
                    return Ok(());
                }
                Err(differ(format!("string '{sa}' is not equal to string '{sb}'"), pos))
            }
            (Value::Path(x), Value::Path(y)) => {
                if x == y {
                    return Ok(());
                }
                Err(differ(format!("path '{sa}' is not equal to path '{sb}'"), pos))
            }
            (Value::List(x), Value::List(y)) => {
                if x.len() != y.len() {
                    return Err(differ(
                        format!(
                            "list of size '{}' is not equal to list of size '{}', left hand side is '{sa}', right hand side is '{sb}'",
                            x.len(),
                            y.len()
                        ),
                        pos,
                    ));
                }
                for (i, (p, q)) in x.iter().zip(y.iter()).enumerate() {
                    if p.same_allocation(q) {
                        continue;
                    }
                    self.assert_equal(p, q, pos)
                        .map_err(|e| e.with_frame(format!("while comparing list element {i}"), pos))?;
                }
                Ok(())
            }
            (Value::Attrs(x), Value::Attrs(y)) => {
                if self.is_derivation(x)? && self.is_derivation(y)? {
                    if let (Some(p), Some(q)) = (x.get_str("outPath").cloned(), y.get_str("outPath").cloned()) {
                        return self.assert_equal(&p, &q, pos).map_err(|e| {
                            e.with_frame("while comparing a derivation by its 'outPath' attribute", pos)
                        });
                    }
                }
                if x.len() != y.len() {
                    return Err(differ(
                        format!("attribute names of attribute set '{sa}' differs from attribute set '{sb}'"),
                        pos,
                    ));
                }
                // Same order as `==` (by symbol), so the reported difference
                // is the one equality tripped over.
                for (p, q) in x.iter().zip(y.iter()) {
                    if p.name != q.name {
                        let msg = if y.get(p.name).is_none() {
                            format!("attribute name '{}' is contained in '{sa}', but not in '{sb}'", p.name)
                        } else {
                            format!("attribute name '{}' is missing in '{sa}', but is contained in '{sb}'", q.name)
                        };
                        return Err(differ(msg, pos));
                    }
                    if p.value.same_allocation(&q.value) {
                        continue;
                    }
                    self.assert_equal(&p.value, &q.value, pos).map_err(|e| {
                        let mut e = e;
                        if !q.pos.is_none() {
                            e = e.with_frame("where right hand side is", q.pos);
                        }
                        if !p.pos.is_none() {
                            e = e.with_frame("where left hand side is", p.pos);
                        }
                        e.with_frame(format!("while comparing attribute '{}'", p.name), pos)
                    })?;
                }
                Ok(())
            }
            (Value::Null, _) => Ok(()),
            _ => Err(differ(
                "distinct functions and immediate comparisons of identical functions compare as unequal".to_string(),
                pos,
            )),
        }
    }
}
