//! Installable selection for every command: [`Installables`] and its
//! selection live in `nixkit_eval::installable` (where `nix-instantiate`'s
//! library run, which cannot depend on this crate, uses them too) and are
//! re-exported here; [`derivations`] is what building and installing commands
//! want from them. Binaries flatten `nixkit_eval::cli::InstallableArgs` into
//! their clap definitions for the flags.

use nixkit_eval::{EvalError, Evaluator};

pub use nixkit_eval::installable::{
    absolute_path, select_attr_path, AutoArg, InputContext, Installables,
};

/// The derivations the installables denote, as (`.drv` path, output name), in
/// order: every selected value is auto-called and searched for derivations as
/// `nix-build` and `nix-env -i` do.
pub fn derivations(
    installables: &Installables,
    ev: &mut Evaluator,
    ctx: &InputContext<'_>,
) -> Result<Vec<(String, String)>, EvalError> {
    let mut out = Vec::new();
    installables.for_each(ev, ctx, true, |ev, v, auto_args| {
        for d in ev.derivations(&v, auto_args)? {
            out.push(ev.drv_path_and_output(&d)?);
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{derivations, AutoArg, InputContext, Installables};

    /// Attribute paths with quoted keys and list indices, auto-calling on the
    /// way, and `--arg`/`--argstr` (the later of two for a name wins).
    #[test]
    fn derivations_are_found_through_attribute_paths() {
        let expr = r#"{ system ? "x", tag }: {
            "a.b" = [ (derivation { name = "d0"; builder = "/b"; inherit system; })
                      ({ n }: derivation { name = "d${n}-${tag}"; builder = "/b"; inherit system; }) ];
          }"#;
        let sel = Installables {
            from_expr: true,
            inputs: vec![expr.to_owned()],
            attr_paths: vec!["\"a.b\".1".to_owned(), "\"a.b\".0".to_owned()],
            auto_args: vec![
                ("tag".to_owned(), AutoArg::Str("t".to_owned())),
                ("n".to_owned(), AutoArg::Expr("toString (1 + 1)".to_owned())),
            ],
        };
        // One evaluation per process: no cycle collection.
        let mut ev = nixkit_eval::Evaluator::builder()
            .collect_cycles(false)
            .build();
        let found = derivations(&sel, &mut ev, &InputContext::new("/")).unwrap_or_default();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].0.ends_with("-d2-t.drv"), "{found:?}");
        assert!(found[1].0.ends_with("-d0.drv"), "{found:?}");
        assert!(found.iter().all(|(_, out)| out == "out"), "{found:?}");
        let missing = Installables {
            attr_paths: vec!["\"a.b\".7".to_owned()],
            ..sel
        };
        let err = derivations(&missing, &mut ev, &InputContext::new("/"))
            .err()
            .map(|e| e.render(false));
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("list index 7 in selection path")),
            "{err:?}"
        );
    }
}
