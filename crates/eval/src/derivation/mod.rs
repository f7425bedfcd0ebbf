//! `derivationStrict`: turning a derivation's attributes into a store
//! derivation, as CppNix does. Attributes are processed in lexicographic
//! order; they become the environment (or the `__json` of structured
//! attributes), string contexts become the inputs, and the output and `.drv`
//! paths are computed with `nixkit-derivation`. The ATerm is handed to the
//! [`crate::io::EvalStore`] (a read-only store only computes paths).

mod cache;
mod outputs;

use nixkit_derivation::{
    downstream_placeholder, fill_output_paths, hash_derivation_modulo, Derivation, DerivationOutput,
};
use nixkit_store::{StoreDir, StorePath};
use nixkit_syntax::Symbol;

use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::ops::Coerce;
use crate::source::{self, Pos};
use crate::value::{Attrs, Context, Value};

use cache::read_store_derivation;
pub(crate) use cache::DerivationCache;
use outputs::{check_derivation_name, parse_outputs, HashMode, OutputSpec};

/// Attributes whose effect `__structuredAttrs` disables (CppNix warns about them).
const LEGACY_CHECKS: &[&str] = &[
    "allowedReferences",
    "allowedRequisites",
    "disallowedReferences",
    "disallowedRequisites",
    "maxClosureSize",
    "maxSize",
];

/// `toString` semantics that also copy paths into the store.
const ENV_COERCE: Coerce = Coerce {
    more: true,
    copy_to_store: true,
};

/// A string context element, as stored in [`Context`].
pub(crate) enum ContextElem<'a> {
    /// A plain store path.
    Opaque(&'a str),
    /// `=<drv>`: the derivation and its whole closure.
    DrvDeep(&'a str),
    /// `!<output>!<drv>`: one output of a derivation.
    Built { output: &'a str, drv: &'a str },
}

impl<'a> ContextElem<'a> {
    /// Decodes a context element.
    pub(crate) fn parse(e: &'a str) -> ContextElem<'a> {
        if let Some(p) = e.strip_prefix('=') {
            ContextElem::DrvDeep(p)
        } else if let Some(rest) = e.strip_prefix('!') {
            let (output, drv) = rest.split_once('!').unwrap_or((rest, ""));
            ContextElem::Built { output, drv }
        } else {
            ContextElem::Opaque(e)
        }
    }
}

/// Where a position is, as `file:line:col` (for "whose name attribute is located at").
fn pos_text(pos: Pos) -> String {
    match source::locate(pos) {
        Some(l) => format!("{}:{}:{}", l.origin.display(), l.line, l.column),
        None => "«none»".to_string(),
    }
}

pub(crate) fn derivation_strict(s: &mut EvalState, attrs: &Attrs, pos: Pos) -> EvalResult<Value> {
    let Some(name_attr) = attrs.get_attr(sym!("name")) else {
        return Err(EvalError::eval("attribute 'name' missing").with_frame(
            "in the attrset passed as argument to builtins.derivationStrict",
            Pos::NONE,
        ));
    };
    let name = s.force_string(&name_attr.value, pos).map_err(|e| {
        e.with_frame(
            "while evaluating the `name` attribute passed to builtins.derivationStrict",
            Pos::NONE,
        )
        .with_frame(
            "while evaluating the derivation attribute 'name'",
            name_attr.pos,
        )
    })?;
    let name = name.as_str().to_string();
    let name_pos = name_attr.pos;
    let frame = |e: EvalError| {
        e.with_context_frame(format!(
            "while evaluating derivation '{name}'\n  whose name attribute is located at {}",
            pos_text(name_pos)
        ))
    };
    strict_inner(s, attrs, &name, pos).map_err(frame)
}

/// Forces a string that must not have a context.
fn force_string_no_ctx(s: &mut EvalState, v: &Value, pos: Pos) -> EvalResult<String> {
    let st = s.force_string(v, pos)?;
    if let Some(c) = st.context() {
        let first = c.iter().next().map(|e| e.to_string()).unwrap_or_default();
        return Err(EvalError::eval(format!(
            "the string '{}' is not allowed to refer to a store path (such as '{first}')",
            st.as_str()
        ))
        .at(pos));
    }
    Ok(st.as_str().to_string())
}

fn bool_attr(s: &mut EvalState, attrs: &Attrs, name: &str) -> EvalResult<bool> {
    match attrs.get_str(name) {
        Some(v) => s.expect_bool(v).map_err(|e| {
            e.with_frame(
                format!(
                    "while evaluating the `{name}` attribute passed to builtins.derivationStrict"
                ),
                Pos::NONE,
            )
        }),
        None => Ok(false),
    }
}

fn warn_structured(s: &EvalState, drv_name: &str, key: &str, pos: Pos) {
    let mut text = format!(
        "warning:\n         … while evaluating derivation '{drv_name}'\n\n         warning: 'structuredAttrs' disables the effect of the derivation attribute '{key}'; use 'outputChecks.<output>.{key}' instead\n"
    );
    source::render_location_with(pos, "         ", "         ", &mut text);
    s.message(text.trim_end_matches('\n'));
}

fn strict_inner(s: &mut EvalState, attrs: &Attrs, drv_name: &str, pos: Pos) -> EvalResult<Value> {
    let structured = bool_attr(s, attrs, "__structuredAttrs")?;
    let ignore_nulls = bool_attr(s, attrs, "__ignoreNulls")?;
    let mut json: Option<String> = structured.then(|| String::from("{"));
    let mut drv = Derivation {
        name: drv_name.to_string(),
        ..Derivation::default()
    };
    let mut ctx = Context::new();
    let mut spec = OutputSpec::default();

    for attr in attrs.sorted_by_name() {
        let key = attr.name.as_str();
        if key == "__ignoreNulls" {
            continue;
        }
        let r = process_attr(
            s,
            &mut drv,
            &mut json,
            &mut ctx,
            &mut spec,
            attr,
            ignore_nulls,
            pos,
        );
        r.map_err(|e| {
            e.with_frame(
                format!("while evaluating attribute '{key}' of derivation '{drv_name}'"),
                attr.pos,
            )
        })?;
    }
    if let Some(mut j) = json.take() {
        j.push('}');
        drv.env.insert("__json".to_string(), j);
    }

    let sd = s
        .derivations
        .store_dir(s.store.store_dir())
        .map_err(EvalError::eval)?;
    add_inputs(s, &sd, &mut drv, &ctx)?;

    if drv.builder.is_empty() {
        return Err(EvalError::eval("required attribute 'builder' missing"));
    }
    if drv.system.is_empty() {
        return Err(EvalError::eval("required attribute 'system' missing"));
    }
    check_derivation_name(drv_name, &spec)?;
    spec.fill_outputs(s, &sd, &mut drv)?;
    finish(s, &sd, drv)
}

#[allow(clippy::too_many_arguments)]
fn process_attr(
    s: &mut EvalState,
    drv: &mut Derivation,
    json: &mut Option<String>,
    ctx: &mut Context,
    spec: &mut OutputSpec,
    attr: &crate::value::Attr,
    ignore_nulls: bool,
    pos: Pos,
) -> EvalResult<()> {
    let key = attr.name.as_str();
    let v = &attr.value;
    if ignore_nulls && matches!(s.force(v)?, Value::Null) {
        return Ok(());
    }
    if key == "__contentAddressed" && s.expect_bool(v)? {
        spec.content_addressed = true;
        return Err(feature_error("ca-derivations"));
    }
    if key == "__impure" && s.expect_bool(v)? {
        spec.impure = true;
        return Err(feature_error("impure-derivations"));
    }
    if key == "args" {
        let items = s.force_list(v, pos)?;
        for item in items.iter() {
            let a = s
                .coerce_to_string(item, ctx, ENV_COERCE, pos)
                .map_err(|e| {
                    e.with_frame(
                        "while evaluating an element of the argument list",
                        Pos::NONE,
                    )
                })?;
            drv.args.push(a);
        }
        return Ok(());
    }
    if let Some(j) = json.as_mut() {
        if key == "__structuredAttrs" {
            return Ok(());
        }
        let mut piece = String::new();
        // The attribute's value is a level of the traversal (as in `toJSON`).
        s.nested_at(pos, |s| s.value_to_json(v, ctx, true, &mut piece, pos))?;
        if j.len() > 1 {
            j.push(',');
        }
        crate::builtins::json::json_string(key, j);
        j.push(':');
        j.push_str(&piece);
        match key {
            "builder" => {
                let b = s.force_string(v, pos)?;
                if let Some(c) = b.context() {
                    ctx.extend(c.iter().cloned());
                }
                drv.builder = b.as_str().to_string();
            }
            "system" => drv.system = force_string_no_ctx(s, v, pos)?,
            "outputHash" => spec.hash = Some(force_string_no_ctx(s, v, pos)?),
            "outputHashAlgo" => spec.set_algo(&force_string_no_ctx(s, v, pos)?),
            "outputHashMode" => {
                spec.mode = Some(HashMode::parse(&force_string_no_ctx(s, v, pos)?)?)
            }
            "outputs" => {
                let items = s.force_list(v, pos)?;
                let mut names = Vec::new();
                for item in items.iter() {
                    names.push(force_string_no_ctx(s, item, pos)?);
                }
                spec.outputs = parse_outputs(names)?;
            }
            _ => {}
        }
        if LEGACY_CHECKS.contains(&key) {
            warn_structured(s, &drv.name, key, attr.pos);
        }
        return Ok(());
    }
    let text = s.coerce_to_string(v, ctx, ENV_COERCE, pos)?;
    match key {
        "builder" => drv.builder = text.clone(),
        "system" => drv.system = text.clone(),
        "outputHash" => spec.hash = Some(text.clone()),
        "outputHashAlgo" => spec.set_algo(&text),
        "outputHashMode" => spec.mode = Some(HashMode::parse(&text)?),
        "outputs" => {
            spec.outputs = parse_outputs(
                text.split([' ', '\t', '\n', '\r'])
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            )?
        }
        _ => {}
    }
    drv.env.insert(key.to_string(), text);
    Ok(())
}

fn feature_error(feature: &str) -> EvalError {
    EvalError::eval(format!(
        "experimental Nix feature '{feature}' is disabled; add '--extra-experimental-features {feature}' to enable it"
    ))
}

fn parse_store_path(sd: &StoreDir, p: &str) -> EvalResult<StorePath> {
    sd.parse_path(p).map_err(|e| EvalError::eval(e.to_string()))
}

/// Turns the collected string context into input sources and derivations.
fn add_inputs(
    s: &mut EvalState,
    sd: &StoreDir,
    drv: &mut Derivation,
    ctx: &Context,
) -> EvalResult<()> {
    for e in ctx {
        match ContextElem::parse(e) {
            ContextElem::Opaque(p) => {
                drv.input_srcs.insert(parse_store_path(sd, p)?);
            }
            ContextElem::Built { output, drv: d } => {
                drv.input_drvs
                    .entry(parse_store_path(sd, d)?)
                    .or_default()
                    .insert(output.to_string());
            }
            ContextElem::DrvDeep(d) => {
                let root = parse_store_path(sd, d)?;
                let store = s.store.clone();
                for p in s.derivations.closure(store.as_ref(), sd, &root) {
                    if p.name().ends_with(".drv") {
                        let outs = s.derivations.output_names(store.as_ref(), sd, &p);
                        drv.input_drvs.entry(p.clone()).or_default().extend(outs);
                    }
                    drv.input_srcs.insert(p);
                }
            }
        }
    }
    Ok(())
}

/// Computes the `.drv` path, remembers the hash modulo, writes the ATerm and
/// builds the result set.
fn finish(s: &mut EvalState, sd: &StoreDir, drv: Derivation) -> EvalResult<Value> {
    let aterm = drv
        .to_aterm(sd)
        .map_err(|e| EvalError::eval(e.to_string()))?;
    let drv_path = drv
        .drv_path_of_aterm(sd, &aterm)
        .map_err(|e| EvalError::eval(e.to_string()))?;
    let store = s.store.clone();
    let source = |p: &StorePath| read_store_derivation(store.as_ref(), sd, p);
    let h = hash_derivation_modulo(&drv, sd, false, &source, &mut s.derivations.memo)
        .map_err(|e| EvalError::eval(e.to_string()))?;
    s.derivations.memo.insert(drv_path.clone(), h);
    let drv_path_s = sd.print_path(&drv_path);
    let refs: Vec<String> = drv.references().iter().map(|r| sd.print_path(r)).collect();
    s.store.write_derivation(&drv_path_s, &aterm, &refs)?;
    s.derivations.record_derivation(drv_path.clone(), &drv);

    let mut fields = Vec::with_capacity(drv.outputs.len() + 1);
    let mut c = Context::new();
    c.insert(format!("={drv_path_s}").into());
    fields.push((
        sym!("drvPath"),
        Value::string_with_context(drv_path_s.as_str(), c),
    ));
    for (out, o) in &drv.outputs {
        let path = match o {
            DerivationOutput::InputAddressed { path } => sd.print_path(path),
            DerivationOutput::CaFixed(ca) => {
                let p = drv
                    .fixed_output_path(sd, out, ca)
                    .map_err(|e| EvalError::eval(e.to_string()))?;
                sd.print_path(&p)
            }
            _ => downstream_placeholder(&drv_path, out),
        };
        let mut c = Context::new();
        c.insert(format!("!{out}!{drv_path_s}").into());
        fields.push((Symbol::intern(out), Value::string_with_context(path, c)));
    }
    Ok(Value::attrs(Attrs::from_pairs(fields)))
}

impl EvalState {
    /// Remembers the references of a text file added to the store, for
    /// closures taken later (whole-derivation contexts).
    pub(crate) fn record_text_path(&mut self, path: &str, references: &[String]) {
        let Ok(sd) = self.derivations.store_dir(self.store.store_dir()) else {
            return;
        };
        let Ok(p) = sd.parse_path(path) else { return };
        let refs = references
            .iter()
            .filter_map(|r| sd.parse_path(r).ok())
            .collect();
        self.derivations.record_text(p, refs);
    }
}

/// Fills in the output paths of a derivation whose outputs are masked
/// (hash modulo over its inputs).
pub(crate) fn fill_paths(s: &mut EvalState, sd: &StoreDir, drv: &mut Derivation) -> EvalResult<()> {
    let store = s.store.clone();
    let source = |p: &StorePath| read_store_derivation(store.as_ref(), sd, p);
    fill_output_paths(drv, sd, &source, &mut s.derivations.memo)
        .map_err(|e| EvalError::eval(e.to_string()))
}
