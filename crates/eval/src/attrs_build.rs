//! Building attribute sets and `let` scopes: static, inherited, inherited-from
//! and dynamic attributes, recursive scopes and the legacy `__overrides`.

use triomphe::Arc;

use nixkit_syntax::Symbol;

use crate::compile::{AttrValue, AttrsExpr, ExprKind, StaticAttr};
use crate::error::{EvalError, EvalResult};
use crate::eval::{type_error, EvalState};
use crate::source::{self, Pos};
use crate::thunk::{Env, OtherCode, Thunk};
use crate::value::{Attr, Attrs, PrimOp, Value};

/// `__overrideOr overrides name original`: the attribute `name` of the
/// `__overrides` set if present, else the original value.
static OVERRIDE_OR: PrimOp = PrimOp {
    name: "__overrideOr",
    arity: 3,
    func: override_or,
    forces_first: None,
};

fn override_or(state: &mut EvalState, args: &[Value], pos: Pos) -> EvalResult<Value> {
    let overrides = state.force_attrs(&args[0], pos)?;
    let name = state.force_string(&args[1], pos)?;
    match overrides.get(Symbol::intern(name.as_str())) {
        Some(v) => state.force(v),
        None => state.force(&args[2]),
    }
}

impl EvalState {
    /// The values of the static attributes of `a`, in the order of
    /// `a.attrs` (the slots of a recursive scope); `scope` is where plain
    /// values are evaluated, `outer` where `inherit x` is.
    fn static_values(&self, a: &AttrsExpr, scope: &Arc<Env>, outer: &Arc<Env>) -> Vec<Value> {
        let sources = self.inherit_sources(a, scope);
        let recursive = !Arc::ptr_eq(scope, outer);
        let mut values: Vec<Value> = Vec::with_capacity(a.attrs.len());
        for attr in &a.attrs {
            let value = self.static_value(
                attr,
                scope,
                outer,
                &sources,
                recursive.then_some(values.as_slice()),
            );
            values.push(value);
        }
        values
    }

    /// The slots of a recursive set's scope: its values, with each function
    /// attribute stored closing over a marker instead of the scope (see
    /// [`Env::own_lambda`]). The set's attributes keep the closures over the
    /// scope, so the scope refers to none of them and the set's functions
    /// make no reference cycle through it.
    fn own_lambdas_marked(a: &AttrsExpr, mut values: Vec<Value>) -> Vec<Value> {
        for (v, attr) in values.iter_mut().zip(&a.attrs) {
            if let Some(l) = attr.written_lambda() {
                *v = crate::value::Closure::in_own_scope(l.clone());
            }
        }
        values
    }

    /// [`Self::static_values`] for a `let`: a binding that is a lambda is
    /// stored closing over a marker instead of the scope, which breaks the
    /// reference cycle scope → closure → scope (every reader of the scope's
    /// slots binds the scope it found the slot in, see
    /// [`Env::own_lambda`]). Not for recursive sets: their values are also
    /// the set's attributes, read without a scope.
    fn let_values(&self, a: &AttrsExpr, scope: &Arc<Env>, outer: &Arc<Env>) -> Vec<Value> {
        let sources = self.inherit_sources(a, scope);
        let mut values: Vec<Value> = Vec::with_capacity(a.attrs.len());
        for attr in &a.attrs {
            let value = match attr.written_lambda() {
                Some(l) => {
                    crate::stats::bump(&self.stats.thunks_avoided, 1);
                    crate::value::Closure::in_own_scope(l.clone())
                }
                None => self.static_value(attr, scope, outer, &sources, Some(values.as_slice())),
            };
            values.push(value);
        }
        values
    }

    /// The values of the `inherit (e)` sources of `a`, lazily (each
    /// attribute inherited from one holds the source itself, so nothing is
    /// kept for the set as a whole); empty for a set without any (most
    /// sets: nothing to allocate).
    fn inherit_sources(&self, a: &AttrsExpr, scope: &Arc<Env>) -> Vec<Value> {
        a.inherit_from
            .iter()
            .map(|e| self.delay(e, scope))
            .collect()
    }

    /// The value of one static attribute (see [`Self::static_values`]).
    ///
    /// In a recursive scope (`earlier`: the values of the attributes before
    /// this one), `x = y;` where `y` is bound earlier in the same scope
    /// shares `y`'s value instead of getting a thunk of its own, as in
    /// CppNix (this decides where an infinite recursion is reported).
    fn static_value(
        &self,
        attr: &StaticAttr,
        scope: &Arc<Env>,
        outer: &Arc<Env>,
        sources: &[Value],
        earlier: Option<&[Value]>,
    ) -> Value {
        match &attr.value {
            AttrValue::Plain(e) => match (&e.kind, earlier) {
                (ExprKind::Local { depth: 0, slot }, Some(earlier))
                    if (*slot as usize) < earlier.len() =>
                {
                    earlier[*slot as usize].clone()
                }
                _ => self.delay(e, scope),
            },
            AttrValue::Inherited(e) => self.delay(e, outer),
            AttrValue::From(from) => {
                // Compilation gives a set with `inherit (e)` attributes its
                // sources.
                let code = match sources.get(from.source as usize) {
                    Some(Value::Attrs(attrs)) => {
                        OtherCode::SelectFromSet(attrs.clone(), from.clone())
                    }
                    Some(Value::Thunk(t)) => OtherCode::SelectFromThunk(t.clone(), from.clone()),
                    other => OtherCode::SelectFromValue(Box::new((
                        other.cloned().unwrap_or(Value::Null),
                        from.clone(),
                    ))),
                };
                Value::Thunk(Arc::new(Thunk::new(code.into())))
            }
        }
    }

    /// Evaluates an attribute set literal.
    /// Out of line: inlined, its locals (the largest of any arm) would widen
    /// the frame of `eval_inner`, which every level of a deep recursion pays
    /// for.
    #[inline(never)]
    pub(crate) fn build_attrs(
        &mut self,
        a: &AttrsExpr,
        env: &Arc<Env>,
        _pos: Pos,
    ) -> EvalResult<Value> {
        crate::stats::bump(&self.stats.attrsets, 1);
        if a.recursive {
            crate::stats::bump(&self.stats.envs, 1);
            crate::stats::bump(&self.stats.env_slots, a.attrs.len() as u64);
        }
        if a.dynamic.is_empty() {
            // The common case: the set is written straight into its shared
            // allocation, in the order compiled into `by_name`.
            if !a.recursive {
                let sources = self.inherit_sources(a, env);
                let entries = a.by_name.iter().map(|&i| {
                    let attr = &a.attrs[i as usize];
                    Attr {
                        name: attr.name,
                        value: self.static_value(attr, env, env, &sources, None),
                        pos: attr.pos,
                    }
                });
                return Ok(Value::Attrs(Attrs::from_sorted_exact(entries)));
            }
            if a.overrides.is_none() {
                let scope = Env::deferred(env);
                let values = self.static_values(a, &scope, env);
                let entries = a.by_name.iter().map(|&i| {
                    let attr = &a.attrs[i as usize];
                    Attr {
                        name: attr.name,
                        value: values[i as usize].clone_inline(),
                        pos: attr.pos,
                    }
                });
                let attrs = Attrs::from_sorted_exact(entries);
                scope.fill(Self::own_lambdas_marked(a, values));
                self.keep_if_shared(scope);
                return Ok(Value::Attrs(attrs));
            }
        }
        let (scope, mut values) = if a.recursive {
            let scope = Env::deferred(env);
            let values = self.static_values(a, &scope, env);
            (scope, values)
        } else {
            (env.clone(), self.static_values(a, env, env))
        };
        let overrides_index = a.overrides.map(|i| i as usize);
        if let Some(oi) = overrides_index {
            let overrides = values[oi].clone();
            for (i, (v, attr)) in values.iter_mut().zip(&a.attrs).enumerate() {
                if i != oi {
                    let args = vec![
                        overrides.clone(),
                        Value::string(attr.name.as_str()),
                        v.clone(),
                    ];
                    *v = EvalState::delay_call(Value::PrimOp(&OVERRIDE_OR), args, attr.pos);
                }
            }
        }
        if a.recursive {
            scope.fill(values.clone());
            if Arc::count(&scope) > 1 {
                self.cycles.register(scope.clone());
            }
        }
        let mut entries: Vec<Attr> = a
            .attrs
            .iter()
            .zip(values)
            .map(|(attr, value)| Attr {
                name: attr.name,
                value,
                pos: attr.pos,
            })
            .collect();
        if let Some(oi) = overrides_index {
            let overrides_value = entries[oi].value.clone();
            let overrides = match self.force(&overrides_value) {
                Ok(Value::Attrs(o)) => o,
                Ok(other) => {
                    return Err(type_error("a set", &other)
                        .with_frame("while evaluating the `__overrides` attribute", Pos::NONE))
                }
                Err(e) => return Err(e),
            };
            for o in overrides.iter() {
                if !entries.iter().any(|e| e.name == o.name) {
                    entries.push(o.clone());
                }
            }
        }
        if a.dynamic.is_empty() {
            return Ok(Value::Attrs(Attrs::from_unsorted(entries)));
        }
        let mut attrs = Attrs::from_unsorted(entries);
        for d in &a.dynamic {
            let name = self.eval(&d.name, &scope)?;
            let name = match &name {
                Value::Null => continue,
                Value::String(s) => s.symbol(),
                other => {
                    return Err(type_error("a string", other).at(d.name.pos).with_frame(
                        "while evaluating the name of a dynamic attribute",
                        d.name.pos,
                    ))
                }
            };
            if let Some(prev) = attrs.get_attr(name) {
                let at = match source::locate(prev.pos) {
                    Some(l) => format!("{}:{}:{}", l.origin.display(), l.line, l.column),
                    None => "«unknown»".to_string(),
                };
                return Err(EvalError::eval(format!(
                    "dynamic attribute '{name}' already defined at {at}"
                ))
                .at(d.pos));
            }
            let value = self.delay(&d.value, &scope);
            let single = Attrs::from_sorted(vec![Attr {
                name,
                value,
                pos: d.name.pos,
            }]);
            attrs = attrs.update(&single);
        }
        Ok(Value::Attrs(attrs))
    }

    /// Registers the scope of a `rec` set with the cycle collector if
    /// something besides the caller refers to it (its bindings do).
    fn keep_if_shared(&mut self, scope: Arc<Env>) {
        if Arc::count(&scope) > 1 {
            self.cycles.register(scope);
        }
    }

    /// Creates the scope of a `let`.
    pub(crate) fn build_let(&mut self, a: &AttrsExpr, env: &Arc<Env>) -> EvalResult<Arc<Env>> {
        crate::stats::bump(&self.stats.envs, 1);
        crate::stats::bump(&self.stats.env_slots, a.attrs.len() as u64);
        let scope = Env::deferred(env);
        let values = self.let_values(a, &scope, env);
        scope.fill(values);
        Ok(scope)
    }
}
