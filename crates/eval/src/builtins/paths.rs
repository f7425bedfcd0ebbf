//! Paths and files: `import`, `scopedImport`, `readFile`, `readDir`,
//! `readFileType`, `pathExists`, `baseNameOf`, `dirOf`, `toPath`,
//! `storePath`, `findFile`, `getEnv`, `toFile`, `path`, `filterSource`.

use nixkit_syntax::Symbol;

use crate::builtins::{arg_frame, primop, Args};
use crate::error::{ErrorKind, EvalError, EvalResult};
use crate::eval::EvalState;
use crate::io::{EvalPath, FileIngestion, FileType};
use crate::ops::{canon_path, Coerce};
use crate::source::Pos;
use crate::value::{Attr, Attrs, Context, PrimOp, StringContext, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[
    primop!("import", 1, import),
    primop!("scopedImport", 2, scoped_import),
    primop!("readFile", 1, read_file),
    primop!("readDir", 1, read_dir),
    primop!("readFileType", 1, read_file_type),
    primop!("pathExists", 1, path_exists),
    primop!("baseNameOf", 1, base_name_of),
    primop!("dirOf", 1, dir_of),
    primop!("toPath", 1, to_path),
    primop!("storePath", 1, store_path),
    primop!("findFile", 2, find_file),
    primop!("getEnv", 1, get_env),
    primop!("toFile", 2, to_file),
    primop!("path", 1, path),
    primop!("filterSource", 2, filter_source),
];

/// The frame CppNix's `realisePath` adds to coercion failures.
const REALISE_FRAME: &str = "while realising the context of a path";

/// The last component of a path string (trailing slashes ignored).
pub(crate) fn base_name(p: &str) -> &str {
    let p = p.strip_suffix('/').unwrap_or(p);
    match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

/// Everything before the last `/`.
fn dir_name(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) => "/",
        Some(i) => &p[..i],
        None => ".",
    }
}

impl EvalState {
    /// Coerces a path argument (a path, or a string holding an absolute path).
    pub(crate) fn path_arg(
        &mut self,
        v: &Value,
        name: &'static str,
        i: usize,
        pos: Pos,
    ) -> EvalResult<String> {
        let v = self.force(v).map_err(|e| arg_frame(e, i, name))?;
        if let Value::Path(p) = &v {
            return Ok(p.to_string());
        }
        let mut ctx = Context::new();
        let s = self
            .coerce_to_string(&v, &mut ctx, Coerce::PLAIN, pos)
            .map_err(|e| arg_frame(e.at(pos), i, name))?;
        if !s.starts_with('/') {
            return Err(arg_frame(
                EvalError::eval(format!("string '{s}' doesn't represent an absolute path")).at(pos),
                i,
                name,
            ));
        }
        Ok(canon_path(&s))
    }

    /// CppNix's `realisePath` (behind `import`, `readFile`, `readDir`,
    /// `readFileType`, `pathExists`, `hashFile`): the value is coerced to an
    /// absolute path, peeling `__toString` and `outPath` with a frame for each
    /// step, and failures of the value itself get the frame "while realising
    /// the context of a path" (without position).
    pub(crate) fn realise_path(&mut self, v: &Value, pos: Pos) -> EvalResult<String> {
        let v = self
            .force(v)
            .map_err(|e| e.with_frame(REALISE_FRAME, Pos::NONE))?;
        self.coerce_to_path(&v, pos)
    }

    /// [`EvalState::realise_path`] on a forced value.
    fn coerce_to_path(&mut self, v: &Value, pos: Pos) -> EvalResult<String> {
        match v {
            Value::Path(p) => return Ok(p.to_string()),
            Value::Attrs(a) => {
                if let Some(attr) = a.get_attr(sym!("__toString")) {
                    let (r, at) = self.call_to_string_attr(v, attr)?;
                    return self.nested(|s| s.realise_path(&r, pos)).map_err(|e| {
                        e.with_frame("while using the result of the `__toString` attribute", at)
                    });
                }
                if let Some(attr) = a.get_attr(sym!("outPath")) {
                    let (o, at) = (attr.value.clone(), attr.pos);
                    let o = self.force(&o).map_err(|e| {
                        e.with_frame("while evaluating the `outPath` attribute", at)
                    })?;
                    return self
                        .nested(|s| s.coerce_to_path(&o, pos))
                        .map_err(|e| e.with_frame("while using the `outPath` attribute", at));
                }
            }
            _ => {}
        }
        let mut ctx = Context::new();
        let s = self.coerce_to_string_for(v, &mut ctx, Coerce::PLAIN, Pos::NONE, &|| {
            REALISE_FRAME.into()
        })?;
        if !s.starts_with('/') {
            let msg = format!("string '{s}' doesn't represent an absolute path");
            return Err(EvalError::eval(msg).with_frame(REALISE_FRAME, Pos::NONE));
        }
        Ok(canon_path(&s))
    }

    pub(crate) fn read_file_bytes(&mut self, path: &str, pos: Pos) -> EvalResult<Vec<u8>> {
        if let Some(text) = path
            .strip_prefix(crate::corepkgs::ROOT)
            .and_then(|r| crate::corepkgs::file(r.trim_start_matches('/')))
        {
            return Ok(text.as_bytes().to_vec());
        }
        self.io.read_file(EvalPath::new(path)).or_else(|e| {
            self.store
                .read_unwritten(path)
                .ok_or_else(|| io_error(path, &e, pos))
        })
    }

    /// The store path a path value is copied to (`"${./x}"`).
    pub(crate) fn copy_path_to_store(&mut self, path: &str, pos: Pos) -> EvalResult<String> {
        if let Some(p) = self.store_paths.get(path) {
            return Ok(p.clone());
        }
        if self.io.file_type(EvalPath::new(path), false).is_err() {
            // CppNix reports this from the source accessor, without a position.
            return Err(EvalError::new(
                ErrorKind::Io,
                format!("path '{path}' does not exist"),
            ));
        }
        let name = base_name(path);
        let store_path = self
            .store
            .add_path(
                self.io.as_ref(),
                EvalPath::new(path),
                name,
                FileIngestion::Recursive,
                None,
            )
            .map_err(|e| e.into_eval_error(ErrorKind::Io).at(pos))?;
        self.store_paths
            .insert(path.to_string(), store_path.clone());
        Ok(store_path)
    }

    /// Resolves `<name>` against the search path.
    pub(crate) fn find_in_search_path(
        &self,
        entries: &[(String, String)],
        name: &str,
    ) -> Option<String> {
        for (prefix, path) in entries {
            let candidate = if prefix.is_empty() {
                format!("{path}/{name}")
            } else if name == prefix {
                path.clone()
            } else if let Some(rest) = name
                .strip_prefix(prefix.as_str())
                .and_then(|r| r.strip_prefix('/'))
            {
                format!("{path}/{rest}")
            } else {
                continue;
            };
            let candidate = canon_path(&candidate);
            if self.io.file_type(EvalPath::new(&candidate), true).is_ok() {
                return Some(candidate);
            }
        }
        // CppNix's implicit last entry `nix=/__corepkgs__`.
        let rest = name.strip_prefix("nix/")?;
        crate::corepkgs::file(rest).map(|_| format!("{}/{rest}", crate::corepkgs::ROOT))
    }
}

fn io_error(path: &str, e: &std::io::Error, pos: Pos) -> EvalError {
    let msg = match e.kind() {
        std::io::ErrorKind::NotFound => format!("path '{path}' does not exist"),
        _ => format!("reading file '{path}': {e}"),
    };
    EvalError::new(ErrorKind::Io, msg).at(pos)
}

fn import(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let path = s.realise_path(&a[0], pos)?;
    s.import_file(&path, None, pos)
}

fn scoped_import(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let scope = Args::new(a, "scopedImport", pos).attrs(s, 0)?;
    let path = s.realise_path(&a[1], pos)?;
    s.import_file(&path, Some(scope), pos)
}

fn read_file(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let path = s.realise_path(&a[0], pos)?;
    let data = s.read_file_bytes(&path, pos)?;
    let text = nixkit_syntax::decode_bytes(&data).into_owned();
    if text.contains('\0') {
        return Err(EvalError::eval(format!(
            "input string '{}' cannot be represented as Nix string because it contains null bytes",
            text.replace('\0', "␀")
        ))
        .at(pos));
    }
    Ok(Value::string(text))
}

/// Resolves every symlink in an absolute, canonical path (CppNix's
/// `resolveSymlinks`), through the evaluator's IO. Gives up after 1024 links
/// (a cycle) and returns what it has then; missing components end the walk.
pub(crate) fn resolve_symlinks(io: &dyn crate::io::EvalIo, path: &str) -> String {
    let mut done = String::new();
    let mut todo: Vec<String> = path
        .split('/')
        .rev()
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        match c.as_str() {
            "." => continue,
            ".." => {
                let cut = done.rfind('/').unwrap_or(0);
                done.truncate(cut);
                continue;
            }
            _ => {}
        }
        let next = format!("{done}/{c}");
        if links < 1024
            && matches!(
                io.file_type(EvalPath::new(&next), false),
                Ok(FileType::Symlink)
            )
        {
            if let Ok(target) = io.read_link(EvalPath::new(&next)) {
                links += 1;
                if target.starts_with('/') {
                    done.clear();
                }
                todo.extend(
                    target
                        .split('/')
                        .rev()
                        .filter(|c| !c.is_empty())
                        .map(str::to_string),
                );
                continue;
            }
        }
        done = next;
    }
    if done.is_empty() {
        "/".to_string()
    } else {
        done
    }
}

fn read_dir(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let path = s.realise_path(&a[0], pos)?;
    let path = resolve_symlinks(s.io.as_ref(), &path);
    match s.io.file_type(EvalPath::new(&path), true) {
        Ok(FileType::Directory) => {}
        Ok(_) => {
            return Err(
                EvalError::new(ErrorKind::Io, format!("'{path}' is not a directory")).at(pos),
            )
        }
        Err(e) => return Err(io_error(&path, &e, pos)),
    }
    let entries =
        s.io.read_dir(EvalPath::new(&path))
            .map_err(|e| io_error(&path, &e, pos))?;
    Ok(Value::attrs(Attrs::from_unsorted(
        entries
            .into_iter()
            .map(|(name, ty)| Attr {
                name: Symbol::intern(&name),
                value: Value::string(ty.as_str()),
                pos: Pos::NONE,
            })
            .collect(),
    )))
}

fn read_file_type(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let path = s.realise_path(&a[0], pos)?;
    let ty =
        s.io.file_type(EvalPath::new(&path), false)
            .map_err(|e| io_error(&path, &e, pos))?;
    Ok(Value::string(ty.as_str()))
}

fn path_exists(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let path = s.realise_path(&a[0], pos)?;
    let raw = s.force(&a[0])?;
    let must_be_dir = match &raw {
        Value::String(st) => st.as_str().ends_with('/') || st.as_str().ends_with("/."),
        _ => false,
    };
    // As CppNix: a trailing `/` or `/.` asks for a directory (following the
    // last symlink); otherwise only the ancestors are resolved, so a broken
    // symlink exists.
    Ok(Value::Bool(if must_be_dir {
        matches!(
            s.io.file_type(EvalPath::new(&path), true),
            Ok(FileType::Directory)
        )
    } else {
        s.io.file_type(EvalPath::new(&path), false).is_ok()
    }))
}

fn base_name_of(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let v = Args::new(a, "baseNameOf", pos).value(s, 0)?;
    if let Value::Path(p) = &v {
        return Ok(Value::string(base_name(p)));
    }
    let text = Args::new(a, "baseNameOf", pos).coerced(s, 0, Coerce::PLAIN)?;
    let ctx = text
        .context()
        .map(StringContext::to_set)
        .unwrap_or_default();
    Ok(Value::string_with_context(base_name(text.as_str()), ctx))
}

fn dir_of(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let v = Args::new(a, "dirOf", pos).value(s, 0)?;
    if let Value::Path(p) = &v {
        return Ok(Value::path(dir_name(p)));
    }
    let text = Args::new(a, "dirOf", pos).coerced(s, 0, Coerce::PLAIN)?;
    let ctx = text
        .context()
        .map(StringContext::to_set)
        .unwrap_or_default();
    Ok(Value::string_with_context(dir_name(text.as_str()), ctx))
}

fn to_path(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let path = s.path_arg(&a[0], "toPath", 0, pos)?;
    Ok(Value::string(path))
}

fn store_path(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    if s.settings.pure {
        return Err(
            EvalError::eval("'builtins.storePath' is not allowed in pure evaluation mode").at(pos),
        );
    }
    let path = s.path_arg(&a[0], "storePath", 0, pos)?;
    let store_dir = s.store.store_dir().to_string();
    let Some(rest) = path.strip_prefix(&format!("{store_dir}/")) else {
        return Err(EvalError::eval(format!("path '{path}' is not in the Nix store")).at(pos));
    };
    let root = format!("{store_dir}/{}", rest.split('/').next().unwrap_or(""));
    let mut ctx = Context::new();
    ctx.insert(root.into());
    Ok(Value::string_with_context(path, ctx))
}

fn find_file(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "findFile", pos);
    let list = args.list(s, 0)?;
    let name = args.string(s, 1)?;
    let mut entries = Vec::new();
    for item in list.iter() {
        let attrs = s.force_attrs_ref(item, pos)?;
        let prefix = match attrs.get_str("prefix") {
            Some(p) => s.force_string(p, pos)?.as_str().to_string(),
            None => String::new(),
        };
        let Some(p) = attrs.get_str("path").cloned() else {
            return Err(EvalError::eval("attribute 'path' missing").at(pos));
        };
        let p = s.coerce_to_nix_string(&p, Coerce::PLAIN, pos)?;
        entries.push((prefix, p.as_str().to_string()));
    }
    match s.find_in_search_path(&entries, name.as_str()) {
        Some(p) => Ok(Value::path(p)),
        None => Err(EvalError::new(
            ErrorKind::Throw,
            format!(
                "file '{}' was not found in the Nix search path (add it using $NIX_PATH or -I)",
                name.as_str()
            ),
        )
        .at(pos)),
    }
}

fn get_env(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let name = Args::new(a, "getEnv", pos).string(s, 0)?;
    if s.settings.pure {
        return Ok(Value::string(""));
    }
    Ok(Value::string(
        s.io.get_env(name.as_str()).unwrap_or_default(),
    ))
}

fn to_file(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "toFile", pos);
    let name = args.string(s, 0)?;
    let contents = args.string(s, 1)?;
    let mut refs: Vec<String> = Vec::new();
    for c in contents.context().into_iter().flatten() {
        if c.starts_with(['=', '!']) {
            return Err(EvalError::eval(format!(
                "files created by builtins.toFile may not reference derivations, but {} references {c}",
                name.as_str()
            ))
            .at(pos));
        }
        refs.push(c.to_string());
    }
    let p = s
        .store
        .add_text(name.as_str(), contents.as_str(), &refs)
        .map_err(|e| EvalError::from(e).at(pos))?;
    s.record_text_path(&p, &refs);
    let mut ctx = Context::new();
    ctx.insert(p.clone().into());
    Ok(Value::string_with_context(p, ctx))
}

fn add_filtered(
    s: &mut EvalState,
    path: &str,
    name: &str,
    filter: Option<Value>,
    recursive: bool,
    pos: Pos,
) -> EvalResult<Value> {
    let io = s.io.clone();
    let store = s.store.clone();
    let method = if recursive {
        FileIngestion::Recursive
    } else {
        FileIngestion::Flat
    };
    let result = match &filter {
        None => store.add_path(io.as_ref(), EvalPath::new(path), name, method, None),
        Some(f) => {
            let mut cb = |p: EvalPath<'_>, ty: FileType| -> Result<bool, EvalError> {
                s.call(
                    f,
                    &[Value::path(p.as_str()), Value::string(ty.as_str())],
                    pos,
                )
                .and_then(|r| {
                    s.expect_bool(&r).map_err(|e| {
                        e.at(pos).with_frame(
                            "while evaluating the return value of the path filter function",
                            Pos::NONE,
                        )
                    })
                })
            };
            store.add_path(
                io.as_ref(),
                EvalPath::new(path),
                name,
                method,
                Some(&mut cb),
            )
        }
    };
    // A failed filter gives back its own error, trace included, inside
    // CppNix's frame for the whole operation.
    let p = result.map_err(|e| {
        EvalError::from(e)
            .at(pos)
            .with_frame(format!("while adding path '{path}'"), Pos::NONE)
    })?;
    let mut ctx = Context::new();
    ctx.insert(p.clone().into());
    Ok(Value::string_with_context(p, ctx))
}

fn path(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let attrs = Args::new(a, "path", pos).attrs(s, 0)?;
    let Some(p) = attrs.get_str("path").cloned() else {
        return Err(EvalError::eval("attribute 'path' missing").at(pos));
    };
    let path = s.path_arg(&p, "path", 0, pos)?;
    let name = match attrs.get_str("name") {
        Some(n) => s.force_string(n, pos)?.as_str().to_string(),
        None => base_name(&path).to_string(),
    };
    let filter = match attrs.get_str("filter") {
        Some(f) => Some(s.force(f)?),
        None => None,
    };
    let recursive = match attrs.get_str("recursive") {
        Some(r) => s.expect_bool(r)?,
        None => true,
    };
    add_filtered(s, &path, &name, filter, recursive, pos)
}

fn filter_source(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    // CppNix coerces the path before it looks at the filter.
    let path = s.path_arg(&a[1], "filterSource", 1, pos)?;
    let f = Args::new(a, "filterSource", pos).function(s, 0)?;
    let name = base_name(&path).to_string();
    add_filtered(s, &path, &name, Some(f.clone()), true, pos)
}
