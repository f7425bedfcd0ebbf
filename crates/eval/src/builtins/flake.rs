//! `builtins.parseFlakeRef` and `builtins.flakeRefToString`: pure string
//! parsing and printing of flake references (no fetching, no registry).
//!
//! Supported forms: `github:`/`gitlab:`/`sourcehut:` (`owner/repo[/ref-or-rev]`),
//! `path:` and absolute paths, `git+…`/`hg+…`, `tarball+…`/`file+…` and plain
//! `http(s)://` archives, and indirect references (`nixpkgs`, `flake:id/ref`).
//! Query parameters become attributes (`dir` included); `revCount` and
//! `lastModified` are integers, `shallow`/`submodules`/`allRefs`/
//! `exportIgnore`/`lfs` Booleans.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::collections::BTreeMap;

use nixkit_syntax::Symbol;

use crate::builtins::{primop, Args};
use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::source::Pos;
use crate::value::{Attrs, PrimOp, Value};

pub(crate) const PRIMOPS: &[PrimOp] = &[
    primop!("parseFlakeRef", 1, parse_flake_ref),
    primop!("flakeRefToString", 1, flake_ref_to_string),
];

/// An attribute of a flake reference.
#[derive(Clone, Debug, PartialEq)]
enum Attr {
    Str(String),
    Int(u64),
    Bool(bool),
}

impl Attr {
    fn text(&self) -> String {
        match self {
            Attr::Str(s) => s.clone(),
            Attr::Int(i) => i.to_string(),
            Attr::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        }
    }
}

type FlakeAttrs = BTreeMap<String, Attr>;

const INT_PARAMS: &[&str] = &["revCount", "lastModified"];
const BOOL_PARAMS: &[&str] = &[
    "shallow",
    "submodules",
    "allRefs",
    "exportIgnore",
    "lfs",
    "verifyCommit",
];

/// What a flake reference's components escape: everything but RFC 3986's unreserved
/// characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// The same for a path, whose `/` separators stay as they are.
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

fn percent_decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Percent-encodes `s`, keeping `/` when `keep_slash`.
fn percent_encode(s: &str, keep_slash: bool) -> String {
    utf8_percent_encode(s, if keep_slash { PATH } else { COMPONENT }).to_string()
}

fn add_param(attrs: &mut FlakeAttrs, name: &str, value: &str) -> Result<(), String> {
    let v =
        if INT_PARAMS.contains(&name) {
            Attr::Int(value.parse().map_err(|_| {
                format!("invalid integer '{value}' for flake ref attribute '{name}'")
            })?)
        } else if BOOL_PARAMS.contains(&name) {
            Attr::Bool(matches!(value, "1" | "true"))
        } else {
            Attr::Str(value.to_string())
        };
    attrs.insert(name.to_string(), v);
    Ok(())
}

fn parse_query(query: &str, attrs: &mut FlakeAttrs) -> Result<(), String> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        add_param(attrs, &percent_decode(k), &percent_decode(v))?;
    }
    Ok(())
}

fn is_rev(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parses a flake reference into its attributes.
fn parse(text: &str) -> Result<FlakeAttrs, String> {
    let bad = || format!("'{text}' is not a valid flake reference");
    let (main, query) = text.split_once('?').unwrap_or((text, ""));
    let main = main.split_once('#').map_or(main, |(m, _)| m);
    let mut attrs = FlakeAttrs::new();
    let set = |attrs: &mut FlakeAttrs, k: &str, v: &str| {
        attrs.insert(k.to_string(), Attr::Str(v.to_string()));
    };
    if let Some((scheme, rest)) = main
        .split_once(':')
        .filter(|(s, _)| matches!(*s, "github" | "gitlab" | "sourcehut"))
    {
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        set(&mut attrs, "type", scheme);
        set(&mut attrs, "owner", &percent_decode(parts[0]));
        set(&mut attrs, "repo", &percent_decode(parts[1]));
        if let Some(r) = parts.get(2) {
            set(
                &mut attrs,
                if is_rev(r) { "rev" } else { "ref" },
                &percent_decode(r),
            );
        }
    } else if let Some(path) = main
        .strip_prefix("path:")
        .or_else(|| main.starts_with('/').then_some(main))
    {
        set(&mut attrs, "type", "path");
        set(&mut attrs, "path", &percent_decode(path));
    } else if let Some((kind, url)) = main
        .split_once('+')
        .filter(|(k, _)| matches!(*k, "git" | "hg" | "tarball" | "file"))
    {
        set(&mut attrs, "type", kind);
        // `ref`, `rev` and the other parameters become attributes.
        set(&mut attrs, "url", url);
    } else if main.starts_with("http://") || main.starts_with("https://") {
        set(&mut attrs, "type", "tarball");
        set(&mut attrs, "url", main);
    } else {
        let id_part = main.strip_prefix("flake:").unwrap_or(main);
        let parts: Vec<&str> = id_part.split('/').collect();
        let valid_id = |s: &str| {
            s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if parts.is_empty() || parts.len() > 3 || !valid_id(parts[0]) {
            return Err(bad());
        }
        set(&mut attrs, "type", "indirect");
        set(&mut attrs, "id", parts[0]);
        for p in &parts[1..] {
            set(&mut attrs, if is_rev(p) { "rev" } else { "ref" }, p);
        }
    }
    parse_query(query, &mut attrs)?;
    Ok(attrs)
}

/// Prints flake reference attributes as a URL.
fn unparse(mut attrs: FlakeAttrs) -> Result<String, String> {
    let Some(Attr::Str(ty)) = attrs.remove("type") else {
        return Err("flake reference attributes lack a 'type' attribute".into());
    };
    let mut take = |k: &str| match attrs.remove(k) {
        Some(Attr::Str(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "attribute '{k}' of the flake reference must be a string, not {}",
            other.text()
        )),
        None => Ok(None),
    };
    let mut out = match ty.as_str() {
        "github" | "gitlab" | "sourcehut" => {
            let owner = take("owner")?.ok_or("flake reference lacks 'owner'")?;
            let repo = take("repo")?.ok_or("flake reference lacks 'repo'")?;
            let mut s = format!(
                "{ty}:{}/{}",
                percent_encode(&owner, false),
                percent_encode(&repo, false)
            );
            if let Some(r) = take("rev")?.or(take("ref")?) {
                s.push('/');
                s.push_str(&percent_encode(&r, true));
            }
            s
        }
        "path" => format!(
            "path:{}",
            percent_encode(&take("path")?.ok_or("flake reference lacks 'path'")?, true)
        ),
        "git" | "hg" | "file" => format!(
            "{ty}+{}",
            take("url")?.ok_or("flake reference lacks 'url'")?
        ),
        "tarball" => {
            let url = take("url")?.ok_or("flake reference lacks 'url'")?;
            let archive = [
                ".zip", ".tar", ".tgz", ".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst",
            ];
            if archive.iter().any(|e| url.ends_with(e)) {
                url
            } else {
                format!("tarball+{url}")
            }
        }
        "indirect" => {
            let mut s = format!("flake:{}", take("id")?.ok_or("flake reference lacks 'id'")?);
            for k in ["ref", "rev"] {
                if let Some(r) = take(k)? {
                    s.push('/');
                    s.push_str(&r);
                }
            }
            s
        }
        other => return Err(format!("unsupported flake reference type '{other}'")),
    };
    let query: Vec<String> = attrs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encode(k, false),
                percent_encode(&v.text(), true)
            )
        })
        .collect();
    if !query.is_empty() {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(&query.join("&"));
    }
    Ok(out)
}

fn parse_flake_ref(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let text = Args::new(a, "parseFlakeRef", pos).string(s, 0)?;
    let attrs = parse(text.as_str()).map_err(|e| EvalError::eval(e).at(pos))?;
    Ok(Value::attrs(Attrs::from_pairs(attrs.into_iter().map(
        |(k, v)| {
            let v = match v {
                Attr::Str(s) => Value::string(s),
                Attr::Int(i) => Value::Int(i64::try_from(i).unwrap_or(i64::MAX)),
                Attr::Bool(b) => Value::Bool(b),
            };
            (Symbol::intern(&k), v)
        },
    ))))
}

fn flake_ref_to_string(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let set = Args::new(a, "flakeRefToString", pos).attrs(s, 0)?;
    let mut attrs = FlakeAttrs::new();
    for attr in set.sorted_by_name() {
        let name = attr.name.as_str();
        let v = match s.force_at(&attr.value, attr.pos)? {
            Value::Int(i) if i < 0 => {
                return Err(EvalError::eval(format!("negative value given for flake ref attr {name}: {i}")).at(pos))
            }
            Value::Int(i) => Attr::Int(i.unsigned_abs()),
            Value::Bool(b) => Attr::Bool(b),
            Value::String(st) => Attr::Str(st.as_str().to_string()),
            other => {
                return Err(EvalError::eval(format!(
                    "flake reference attribute sets may only contain integers, Booleans, and strings, but attribute '{name}' is {}",
                    other.show_type()
                )))
            }
        };
        attrs.insert(name.to_string(), v);
    }
    let text = unparse(attrs).map_err(|e| EvalError::eval(e).at(pos))?;
    Ok(Value::string(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(text: &str) -> String {
        unparse(parse(text).unwrap_or_default()).unwrap_or_default()
    }

    #[test]
    fn github() {
        let a = parse("github:NixOS/nixpkgs/23.05?dir=lib").unwrap_or_default();
        assert_eq!(a.get("ref"), Some(&Attr::Str("23.05".into())));
        assert_eq!(a.get("dir"), Some(&Attr::Str("lib".into())));
        assert_eq!(
            roundtrip("github:NixOS/nixpkgs/23.05?dir=lib"),
            "github:NixOS/nixpkgs/23.05?dir=lib"
        );
    }

    #[test]
    fn other_forms() {
        assert_eq!(roundtrip("nixpkgs"), "flake:nixpkgs");
        assert_eq!(roundtrip("/some/path?dir=x"), "path:/some/path?dir=x");
        assert_eq!(
            roundtrip("git+https://example.org/r?ref=main&revCount=3"),
            "git+https://example.org/r?ref=main&revCount=3"
        );
        assert_eq!(
            roundtrip("https://example.org/a.tar.gz"),
            "https://example.org/a.tar.gz"
        );
        assert!(parse("github:only-owner").is_err());
        let a = parse("git+https://x/y?revCount=12&shallow=1").unwrap_or_default();
        assert_eq!(a.get("revCount"), Some(&Attr::Int(12)));
        assert_eq!(a.get("shallow"), Some(&Attr::Bool(true)));
    }
}
