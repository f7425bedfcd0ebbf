//! `fetchurl`, `fetchTarball`, `fetchGit` and `fetchTree` (`type` = `path`, `file`,
//! `tarball` or `git`): the arguments, name and hash checks and results as CppNix
//! has them. The sources themselves come from the evaluator's
//! [`Fetcher`](nixkit_fetch::Fetcher) (by default `file://` URLs and local paths:
//! archives unpacked and repositories exported in-process), and are hashed and
//! added to the store through [`crate::io::EvalIo`] and [`crate::io::EvalStore`];
//! this module does no IO of its own.

use nixkit_store::{Hash, HashAlgo};
use nixkit_syntax::Symbol;

use crate::builtins::paths::base_name;
use crate::builtins::Args;
use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::io::{EvalPath, FileIngestion};
use crate::source::Pos;
use crate::store_path;
use crate::value::{Attrs, Context, Value};

/// What a fetch call asked for.
struct Request {
    url: String,
    name: Option<String>,
    hash: Option<String>,
    /// Whether the argument was an attribute set (for error wording).
    from_attrs: bool,
}

fn request(s: &mut EvalState, a: &[Value], who: &'static str, pos: Pos) -> EvalResult<Request> {
    let v = Args::new(a, who, pos).value(s, 0)?;
    let Value::Attrs(attrs) = &v else {
        let url = s.force_string(&v, pos)?.as_str().to_string();
        return Ok(Request {
            url,
            name: None,
            hash: None,
            from_attrs: false,
        });
    };
    let mut req = Request {
        url: String::new(),
        name: None,
        hash: None,
        from_attrs: true,
    };
    for attr in attrs.sorted_by_name() {
        let text = || {
            format!(
                "while evaluating the '{}' attribute passed to builtins.{who}",
                attr.name
            )
        };
        match attr.name.as_str() {
            "url" => {
                req.url = s
                    .force_string(&attr.value, pos)
                    .map_err(|e| e.with_frame(text(), Pos::NONE))?
                    .as_str()
                    .into()
            }
            "name" => {
                req.name = Some(
                    s.force_string(&attr.value, pos)
                        .map_err(|e| e.with_frame(text(), Pos::NONE))?
                        .as_str()
                        .into(),
                )
            }
            "sha256" | "hash" => {
                req.hash = Some(
                    s.force_string(&attr.value, pos)
                        .map_err(|e| e.with_frame(text(), Pos::NONE))?
                        .as_str()
                        .into(),
                )
            }
            other => {
                return Err(
                    EvalError::eval(format!("unsupported argument '{other}' to '{who}'"))
                        .at(attr.pos),
                );
            }
        }
    }
    if req.url.is_empty() {
        return Err(EvalError::eval("'url' argument required").at(pos));
    }
    Ok(req)
}

/// A fetcher's error as an evaluation error.
fn fetch_error(e: nixkit_fetch::FetchError) -> EvalError {
    EvalError::eval(e.to_string())
}

/// A fetched path as the `&str` the evaluator's IO traits take (fetchers only make
/// paths from URLs and temporary directories, which are text).
fn fetched_path(f: &nixkit_fetch::Fetched) -> String {
    f.path().to_string_lossy().into_owned()
}

/// Checks an expected hash (`sha256` nix32/base16/SRI) against what was
/// fetched.
fn verify(expected: Option<&str>, got: &[u8; 32], url: &str) -> EvalResult<()> {
    let Some(expected) = expected.filter(|e| !e.is_empty()) else {
        return Ok(());
    };
    let want = Hash::parse_any(expected, Some(HashAlgo::Sha256))
        .map_err(|e| EvalError::eval(e.to_string()))?;
    if want.as_bytes() != got.as_slice() {
        let got =
            Hash::from_digest(HashAlgo::Sha256, got).map_err(|e| EvalError::eval(e.to_string()))?;
        return Err(EvalError::eval(format!(
            "hash mismatch in file downloaded from '{url}':\n  specified: {}\n  got:       {}",
            want.to_sri(),
            got.to_sri()
        )));
    }
    Ok(())
}

fn store_string(p: String) -> Value {
    let mut ctx = Context::new();
    ctx.insert(p.clone().into());
    Value::string_with_context(p, ctx)
}

fn check_fetch_name(who: &str, req: &Request, name: &str) -> EvalResult<()> {
    if let Err(e) = store_path::check_name(name) {
        let what = match e {
            store_path::StorePathError::InvalidName(_) => name_problem(name),
            other => other.to_string(),
        };
        let advice = match (req.from_attrs, req.name.is_some()) {
            (false, _) => format!("Please pass an attribute set with 'url' and 'name' attributes to '{who}',  so that it can create a valid store path."),
            (true, false) => format!("Please add a valid 'name' attribute to the argument for '{who}', so that it can create a valid store path."),
            (true, true) => format!("Please change the value for the 'name' attribute passed to '{who}', so that it can create a valid store path."),
        };
        return Err(EvalError::eval(format!(
            "invalid store path name when fetching URL '{}': {what}. {advice}",
            req.url
        )));
    }
    Ok(())
}

/// CppNix's wording for an invalid store path name.
fn name_problem(name: &str) -> String {
    if name.is_empty() {
        return "name must not be empty".to_string();
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+-._?=".contains(*c)))
    {
        Some(c) => format!("name '{name}' contains illegal character '{c}'"),
        None => format!("name '{name}' is not valid"),
    }
}

/// `fetchurl` (`unpack` false) and `fetchTarball` (`unpack` true).
fn fetch_url(
    s: &mut EvalState,
    a: &[Value],
    who: &'static str,
    unpack_it: bool,
    pos: Pos,
) -> EvalResult<Value> {
    let req = request(s, a, who, pos)?;
    let name = match &req.name {
        Some(n) => n.clone(),
        None if unpack_it => "source".to_string(),
        None => base_name(&req.url).to_string(),
    };
    check_fetch_name(who, &req, &name).map_err(|e| e.at(pos))?;
    if s.settings.pure && req.hash.is_none() {
        return Err(EvalError::eval(format!(
            "in pure evaluation mode, '{who}' requires a 'sha256' argument"
        ))
        .at(pos));
    }
    let path =
        fetch_file(s, &name, unpack_it, req.hash.as_deref(), &req.url).map_err(|e| e.at(pos))?;
    Ok(store_string(path))
}

/// Fetches `url` (unpacked when `unpack_it`) and adds it to the store, checking the hash.
fn fetch_file(
    s: &mut EvalState,
    name: &str,
    unpack_it: bool,
    hash: Option<&str>,
    url: &str,
) -> EvalResult<String> {
    let io = s.io.clone();
    if unpack_it {
        let fetched = s.fetcher.fetch_tarball(url).map_err(fetch_error)?;
        let root = fetched_path(&fetched);
        let nar = store_path::nar_sha256(io.as_ref(), &root, None)
            .map_err(|e| EvalError::eval(e.to_string()))?;
        verify(hash, &nar, url)?;
        return s
            .store
            .add_path(
                io.as_ref(),
                EvalPath::new(&root),
                name,
                FileIngestion::Recursive,
                None,
            )
            .map_err(EvalError::from);
    }
    let fetched = s.fetcher.fetch_file(url).map_err(fetch_error)?;
    let file = fetched_path(&fetched);
    let data = io
        .read_file(EvalPath::new(&file))
        .map_err(|e| EvalError::eval(format!("unable to download '{url}': {e}")))?;
    verify(hash, &store_path::sha256(&data), url)?;
    s.store
        .add_path(
            io.as_ref(),
            EvalPath::new(&file),
            name,
            FileIngestion::Flat,
            None,
        )
        .map_err(EvalError::from)
}

pub(crate) fn fetchurl(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    fetch_url(s, a, "fetchurl", false, pos)
}

pub(crate) fn fetch_tarball(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    fetch_url(s, a, "fetchTarball", true, pos)
}

/// A Git repository exported at a revision and added to the store: the
/// attributes of `fetchGit`'s result.
fn fetch_git_repo(
    s: &mut EvalState,
    url: &str,
    rev: Option<&str>,
    name: &str,
) -> EvalResult<Vec<(Symbol, Value)>> {
    let fetched = s.fetcher.fetch_git(url, rev).map_err(fetch_error)?;
    let root = fetched_path(&fetched.tree);
    let io = s.io.clone();
    let nar = store_path::nar_sha256(io.as_ref(), &root, None)
        .map_err(|e| EvalError::eval(e.to_string()))?;
    let path = s
        .store
        .add_path(
            io.as_ref(),
            EvalPath::new(&root),
            name,
            FileIngestion::Recursive,
            None,
        )
        .map_err(EvalError::from)?;
    let nar =
        Hash::from_digest(HashAlgo::Sha256, &nar).map_err(|e| EvalError::eval(e.to_string()))?;
    let rev = fetched.rev;
    Ok(vec![
        (sym!("outPath"), store_string(path)),
        (sym!("rev"), Value::string(rev.as_str())),
        (sym!("shortRev"), Value::string(&rev[..rev.len().min(7)])),
        (
            sym!("revCount"),
            Value::Int(i64::try_from(fetched.rev_count).unwrap_or(i64::MAX)),
        ),
        (sym!("lastModified"), Value::Int(fetched.last_modified)),
        (sym!("narHash"), Value::string(nar.to_sri())),
        (sym!("submodules"), Value::Bool(false)),
    ])
}

pub(crate) fn fetch_git(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let v = Args::new(a, "fetchGit", pos).value(s, 0)?;
    let (url, rev, name) = match &v {
        Value::Attrs(attrs) => {
            let get = |s: &mut EvalState, n: &str| -> EvalResult<Option<String>> {
                match attrs.get_str(n) {
                    Some(x) => Ok(Some(
                        s.coerce_to_nix_string(x, crate::ops::Coerce::PLAIN, pos)?
                            .as_str()
                            .to_string(),
                    )),
                    None => Ok(None),
                }
            };
            let url =
                get(s, "url")?.ok_or_else(|| EvalError::eval("'url' argument required").at(pos))?;
            (
                url,
                get(s, "rev")?,
                get(s, "name")?.unwrap_or_else(|| "source".into()),
            )
        }
        _ => (
            s.coerce_to_nix_string(&v, crate::ops::Coerce::PLAIN, pos)?
                .as_str()
                .to_string(),
            None,
            "source".into(),
        ),
    };
    let fields = fetch_git_repo(s, &url, rev.as_deref(), &name).map_err(|e| e.at(pos))?;
    Ok(Value::attrs(Attrs::from_pairs(fields)))
}

/// `fetchTree`: `path`, `file`, `tarball` and `git` inputs, given as
/// attributes or as a URL string.
pub(crate) fn fetch_tree(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let v = Args::new(a, "fetchTree", pos).value(s, 0)?;
    let mut fields: Vec<(String, Value)> = Vec::new();
    let input_text = match &v {
        Value::Attrs(attrs) => {
            for attr in attrs.sorted_by_name() {
                let x = s.force(&attr.value)?;
                if let Value::Int(i) = x {
                    if i < 0 {
                        return Err(EvalError::eval(format!(
                            "negative value given for 'fetchTree' argument '{}': {i}",
                            attr.name
                        ))
                        .at(pos));
                    }
                }
                fields.push((attr.name.as_str().to_string(), x));
            }
            None
        }
        _ => {
            let url = s.force_string(&v, pos)?.as_str().to_string();
            let ty = if [
                ".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst", ".zip",
            ]
            .iter()
            .any(|e| url.ends_with(e))
            {
                "tarball"
            } else {
                "file"
            };
            fields.push(("type".into(), Value::string(ty)));
            fields.push(("url".into(), Value::string(url.as_str())));
            Some(url)
        }
    };
    let field = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let text = |v: Option<Value>| match v {
        Some(Value::String(st)) => Some(st.as_str().to_string()),
        Some(Value::Path(p)) => Some(p.to_string()),
        _ => None,
    };
    let ty = text(field("type")).ok_or_else(|| {
        EvalError::eval("attribute 'type' is missing in call to 'fetchTree'").at(pos)
    })?;
    let url = text(field("url"))
        .or_else(|| text(field("path")))
        .unwrap_or_default();
    let shown = input_text.clone().unwrap_or_else(|| format!("{ty}:{url}"));
    let frame =
        |e: EvalError| e.with_frame(format!("while fetching the input '{shown}'"), Pos::NONE);
    let hash = text(field("narHash")).or_else(|| text(field("hash")));
    let name = text(field("name")).unwrap_or_else(|| "source".into());
    let result = match ty.as_str() {
        "path" => {
            let io = s.io.clone();
            let p = s
                .store
                .add_path(
                    io.as_ref(),
                    EvalPath::new(&url),
                    &name,
                    FileIngestion::Recursive,
                    None,
                )
                .map_err(EvalError::from);
            p.map(|p| vec![(sym!("outPath"), store_string(p))])
        }
        "file" | "tarball" => {
            let file = url
                .strip_prefix("file://")
                .or_else(|| url.strip_prefix("file:"))
                .map(str::to_string);
            match file {
                Some(f) if f.starts_with('/') => fetch_file(s, &name, ty == "tarball", hash.as_deref(), &format!("file://{f}"))
                    .map(|p| vec![(sym!("outPath"), store_string(p))]),
                Some(_) => Err(EvalError::eval(format!(
                    "{} '{url}' must use an absolute path. The 'file' scheme does not support relative paths.",
                    if ty == "tarball" { "tarball" } else { "file" }
                ))),
                // Network URLs: the fetcher decides (the default one refuses them).
                None => fetch_file(s, &name, ty == "tarball", hash.as_deref(), &url)
                    .map(|p| vec![(sym!("outPath"), store_string(p))]),
            }
        }
        "git" => {
            let rev = text(field("rev"));
            fetch_git_repo(s, &url, rev.as_deref(), &name)
        }
        other => Err(EvalError::eval(format!(
            "input type '{other}' is not supported by this evaluator"
        ))),
    };
    Ok(Value::attrs(Attrs::from_pairs(
        result.map_err(frame).map_err(|e| e.at(pos))?,
    )))
}
