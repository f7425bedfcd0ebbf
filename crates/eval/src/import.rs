//! Loading source: `import`, `scopedImport` and evaluating strings, with a
//! per-evaluator cache of imported files.

use std::sync::Arc;

use nixkit_syntax::{LintKind, ParseErrorKind, ParseOptions};

use crate::builtins::attrs::pos_value;
use crate::compile::{Compiler, GlobalScope};
use crate::error::{ErrorKind, EvalError, EvalResult};
use crate::eval::EvalState;
use crate::io::{EvalPath, FileType};
use crate::source::{self, FileId, Origin, Pos};
use crate::thunk::Env;
use crate::value::{Attrs, Value};

fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

impl EvalState {
    /// Parses and compiles source text; returns the compiled expression.
    pub(crate) fn compile_source(
        &mut self,
        text: &str,
        origin: Origin,
        base_dir: &str,
        scope: Option<&Attrs>,
    ) -> EvalResult<triomphe::Arc<crate::compile::Expr>> {
        let text: Arc<str> = text.into();
        let file = source::register(origin.clone(), text.clone());
        let scoped;
        let base = self.globals.clone();
        let (globals, parse_globals): (&dyn GlobalScope, Arc<nixkit_syntax::Globals>) = match scope
        {
            None => (base.as_ref(), self.parse_globals.clone()),
            Some(scope) => {
                scoped = base.with_scope(scope);
                let g = Arc::new(scoped.syntax_globals());
                (&scoped, g)
            }
        };
        let mut options = ParseOptions::new(base_dir).with_globals(parse_globals);
        if let Some(home) = &self.settings.home {
            options = options.with_home(home.clone());
        }
        let parsed = match (&self.parse_cache, scope) {
            (Some(cache), None) => cache.parse(&text, &options, self.globals_fingerprint),
            _ => Arc::new(nixkit_syntax::parse(&text, &options)),
        };
        if let Some(err) = parsed.errors().first() {
            return Err(parse_error(err, file, &origin));
        }
        for lint in parsed.lints() {
            self.report_lint(lint, file)?;
        }
        let cur_pos = |pos: Pos| pos_value(pos);
        let compiler = Compiler {
            ast: parsed.ast(),
            file,
            globals,
            cur_pos: &cur_pos,
        };
        Ok(compiler.compile(parsed.root()))
    }

    /// Evaluates source text to weak head normal form.
    pub fn eval_source(&mut self, text: &str, origin: Origin, base_dir: &str) -> EvalResult<Value> {
        let expr = self.compile_source(text, origin, base_dir, None)?;
        self.eval(&expr, &Env::root())
    }

    /// `import path` (or `scopedImport scope path`).
    pub(crate) fn import_file(
        &mut self,
        path: &str,
        scope: Option<&Attrs>,
        pos: Pos,
    ) -> EvalResult<Value> {
        let mut path = path.to_string();
        if let Ok(FileType::Directory) = self.io.file_type(EvalPath::new(&path), true) {
            path = format!("{}/default.nix", path.trim_end_matches('/'));
        }
        if scope.is_none() {
            if let Some(v) = self.import_cache.get(path.as_str()) {
                return Ok(v.clone());
            }
        }
        let data = self.read_file_bytes(&path, pos)?;
        let text = nixkit_syntax::decode_bytes(&data).into_owned();
        let expr = self.compile_source(
            &text,
            Origin::File(path.as_str().into()),
            parent_dir(&path),
            scope,
        )?;
        let v = self.eval(&expr, &Env::root())?;
        if scope.is_none() {
            self.import_cache.insert(path.into(), v.clone());
        }
        Ok(v)
    }
}

impl EvalState {
    fn report_lint(&mut self, lint: &nixkit_syntax::LintWarning, file: FileId) -> EvalResult<()> {
        let (index, fatal_text, warn_text) = match lint.kind {
            LintKind::AbsolutePath => {
                let what = if lint.literal.starts_with('~') { "home" } else { "absolute" };
                let t = format!(
                    "{what} path literals are not portable. Consider replacing path literal '{}' by a string, relative path, or parameter (lint-absolute-path-literals)",
                    lint.literal
                );
                (0, t.clone(), t)
            }
            LintKind::ShortPath => {
                let t = format!(
                    "relative path literal '{0}' should be prefixed with '.' for clarity: './{0}' (lint-short-path-literals)",
                    lint.literal
                );
                (1, t.clone(), t)
            }
            LintKind::CursedOr => {
                let loc = match source::locate(Pos::new(file, lint.span.start)) {
                    Some(l) => format!("{}:{}:{}", l.origin.display(), l.line, l.column),
                    None => "«unknown»".to_string(),
                };
                self.message(&format!(
                    "warning: at {loc}: This expression uses `or` as an identifier in a way that will change in a future Nix release.\nWrap this entire expression in parentheses to preserve its current meaning:\n    ({})\nGive feedback at https://github.com/NixOS/nix/pull/11121",
                    lint.literal
                ));
                return Ok(());
            }
            LintKind::Url => (
                2,
                format!("URL literals are disallowed. Consider using a string literal \"{}\" instead (lint-url-literals)", lint.literal),
                format!("URL literals are discouraged. Consider using a string literal \"{}\" instead (lint-url-literals)", lint.literal),
            ),
        };
        let pos = Pos::new(file, lint.span.start);
        match self.settings.lints[index] {
            None => Ok(()),
            Some(true) => Err(EvalError::eval(fatal_text).at(pos)),
            Some(false) => {
                let mut text = format!("warning: {warn_text}\n");
                source::render_location_with(pos, "         ", "         ", &mut text);
                self.message(text.trim_end_matches('\n'));
                Ok(())
            }
        }
    }
}

fn parse_error(err: &nixkit_syntax::ParseError, file: FileId, origin: &Origin) -> EvalError {
    let message = match &err.kind {
        ParseErrorKind::DuplicateAttr { path, line, col } => {
            format!(
                "attribute '{path}' already defined at {}:{line}:{col}",
                origin.display()
            )
        }
        _ => err.to_string(),
    };
    EvalError::new(ErrorKind::Parse, message).at(Pos::new(file, err.span.start))
}
