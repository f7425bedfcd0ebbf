//! Explaining a failed `assert a == b`: CppNix reports the first difference
//! it finds ("string '"x"' is not equal to string '"y"'") with frames for the
//! path to it.

use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::print::show_for_error;
use crate::source::Pos;
use crate::value::Value;

fn differ(msg: String, pos: Pos) -> EvalError {
    EvalError::eval(msg).at(pos)
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
            (Value::Bool(x), Value::Bool(y)) => {
                if x == y {
                    return Ok(());
                }
                Err(differ(format!("boolean '{sa}' is not equal to boolean '{sb}'"), pos))
            }
            (Value::Null, Value::Null) => Ok(()),
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
                Err(differ(format!("path '{x}' is not equal to path '{y}'"), pos))
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
                let same_names = x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| p.name == q.name);
                if !same_names {
                    return Err(differ(
                        format!("attribute names of attribute set '{sa}' differs from attribute set '{sb}'"),
                        pos,
                    ));
                }
                for (p, q) in x.sorted_by_name().into_iter().zip(y.sorted_by_name()) {
                    if p.value.same_allocation(&q.value) {
                        continue;
                    }
                    self.assert_equal(&p.value, &q.value, pos).map_err(|e| {
                        e.with_frame("where right hand side is", q.pos)
                            .with_frame("where left hand side is", p.pos)
                            .with_frame(format!("while comparing attribute '{}'", p.name), pos)
                    })?;
                }
                Ok(())
            }
            (f, g) if f.is_function() && g.is_function() => Err(differ(
                "distinct functions and immediate comparisons of identical functions compare as unequal".to_string(),
                pos,
            )),
            _ => Err(differ(
                format!("{} of value '{sa}' is not equal to {} of value '{sb}'", a.show_type(), b.show_type()),
                pos,
            )),
        }
    }
}
