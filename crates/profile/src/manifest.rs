//! The user environment's `manifest.nix` in nix-env's format: a list of sets, one per
//! installed package, with `name`, `outPath`, `outputs`, one `<output> = { outPath }` per
//! output, `system`, `meta` and `type = "derivation"`; attributes printed sorted by name,
//! as CppNix prints them. pkgman adds `pkgmanSource` (which package set a package came
//! from), which nix-env ignores.

use std::fmt::Write as _;

use nixkit_eval::{Evaluator, Value, ValueView};

/// A value of a package's `meta` that the manifest keeps.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A list.
    List(Vec<MetaValue>),
    /// A set (attributes sorted by name).
    Attrs(Vec<(String, MetaValue)>),
}

/// The package set a package was installed from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceRef {
    /// The channel's name (empty for `-f FILE`).
    pub channel: String,
    /// The package set's store path (a snapshot), or the file for `-f`.
    pub path: String,
    /// The NAR hash of the snapshot (SRI), empty for `-f`.
    pub nar_hash: String,
}

/// One installed (or installable) package.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    /// `name` (`hello-1.0`).
    pub name: String,
    /// `system`.
    pub system: String,
    /// The outputs to install and their store paths, in the package's order.
    pub outputs: Vec<(String, String)>,
    /// `meta`, sorted by attribute name.
    pub meta: Vec<(String, MetaValue)>,
    /// Where it came from, if pkgman installed it.
    pub source: Option<SourceRef>,
}

impl Package {
    /// `meta.priority` (nix-env's default is 5; lower wins).
    pub fn priority(&self) -> i64 {
        match self.meta_value("priority") {
            Some(MetaValue::Int(i)) => *i,
            Some(MetaValue::Str(s)) => s.parse().unwrap_or(DEFAULT_PRIORITY),
            _ => DEFAULT_PRIORITY,
        }
    }

    /// One attribute of `meta`.
    pub fn meta_value(&self, key: &str) -> Option<&MetaValue> {
        self.meta.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `meta.priority`.
    pub fn set_priority(&mut self, priority: i64) {
        self.meta.retain(|(k, _)| k != "priority");
        self.meta
            .push(("priority".to_owned(), MetaValue::Int(priority)));
        self.meta.sort_by(|a, b| a.0.cmp(&b.0));
    }

    /// The path of output `out` (or of the first output).
    pub fn out_path(&self) -> &str {
        self.outputs
            .iter()
            .find(|(n, _)| n == "out")
            .or(self.outputs.first())
            .map_or("", |(_, p)| p.as_str())
    }
}

/// nix-env's priority of a package without `meta.priority`.
pub const DEFAULT_PRIORITY: i64 = 5;

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file did not evaluate.
    #[error("reading manifest '{path}': {message}")]
    Eval {
        /// The manifest file.
        path: String,
        /// The rendered evaluation error.
        message: String,
    },
    /// It evaluated to something of the wrong shape.
    #[error("manifest '{path}' is malformed: {what}")]
    Malformed {
        /// The manifest file.
        path: String,
        /// What is wrong.
        what: String,
    },
}

/// A string literal with CppNix's escaping (the parser's printer).
fn quote(s: &str, out: &mut String) {
    nixkit_syntax::write_string_literal(out, s);
}

/// An attribute name, bare when it is an identifier (as CppNix prints it).
fn key(k: &str, out: &mut String) {
    nixkit_syntax::write_identifier(out, k);
}

fn render_meta(v: &MetaValue, out: &mut String) {
    match v {
        MetaValue::Str(s) => quote(s, out),
        // Negative numbers in parentheses, so that `[ a -1 ]` does not read as a subtraction.
        MetaValue::Int(i) if *i < 0 => {
            let _ = write!(out, "({i})");
        }
        MetaValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        MetaValue::Float(f) if *f < 0.0 => {
            let _ = write!(out, "({})", nixkit_eval::format_float(*f));
        }
        MetaValue::Float(f) => out.push_str(&nixkit_eval::format_float(*f)),
        MetaValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        MetaValue::List(items) => {
            out.push_str("[ ");
            for i in items {
                render_meta(i, out);
                out.push(' ');
            }
            out.push(']');
        }
        MetaValue::Attrs(attrs) => render_attrs(attrs.iter().map(|(k, v)| (k.as_str(), v)), out),
    }
}

fn render_attrs<'a>(attrs: impl Iterator<Item = (&'a str, &'a MetaValue)>, out: &mut String) {
    out.push_str("{ ");
    for (k, v) in attrs {
        key(k, out);
        out.push_str(" = ");
        render_meta(v, out);
        out.push_str("; ");
    }
    out.push('}');
}

/// The manifest's text for `packages`, in nix-env's layout.
pub fn render(packages: &[Package]) -> String {
    let mut out = String::from("[ ");
    for p in packages {
        let mut attrs: Vec<(String, MetaValue)> = vec![
            ("meta".into(), MetaValue::Attrs(p.meta.clone())),
            ("name".into(), MetaValue::Str(p.name.clone())),
            ("outPath".into(), MetaValue::Str(p.out_path().to_owned())),
            (
                "outputs".into(),
                MetaValue::List(
                    p.outputs
                        .iter()
                        .map(|(n, _)| MetaValue::Str(n.clone()))
                        .collect(),
                ),
            ),
            ("system".into(), MetaValue::Str(p.system.clone())),
            ("type".into(), MetaValue::Str("derivation".into())),
        ];
        for (n, path) in &p.outputs {
            attrs.push((
                n.clone(),
                MetaValue::Attrs(vec![("outPath".into(), MetaValue::Str(path.clone()))]),
            ));
        }
        if let Some(s) = &p.source {
            attrs.push((
                "pkgmanSource".into(),
                MetaValue::Attrs(vec![
                    ("channel".into(), MetaValue::Str(s.channel.clone())),
                    ("narHash".into(), MetaValue::Str(s.nar_hash.clone())),
                    ("path".into(), MetaValue::Str(s.path.clone())),
                ]),
            ));
        }
        attrs.sort_by(|a, b| a.0.cmp(&b.0));
        render_attrs(attrs.iter().map(|(k, v)| (k.as_str(), v)), &mut out);
        out.push(' ');
    }
    out.push(']');
    out
}

/// Converts a `meta` value; `None` for what a manifest cannot hold (functions, paths,
/// derivations, errors), which is left out as nix-env leaves it out.
pub(crate) fn meta_from_value(ev: &mut Evaluator, v: &Value, depth: u32) -> Option<MetaValue> {
    if depth > 16 {
        return None;
    }
    let v = ev.force(v).ok()?;
    Some(match v.view()? {
        ValueView::String(s) => MetaValue::Str(s.as_str().to_owned()),
        ValueView::Int(i) => MetaValue::Int(i),
        ValueView::Float(f) => MetaValue::Float(f),
        ValueView::Bool(b) => MetaValue::Bool(b),
        ValueView::List(l) => {
            let mut items = Vec::new();
            for item in l.iter() {
                items.push(meta_from_value(ev, item, depth + 1)?);
            }
            MetaValue::List(items)
        }
        ValueView::Attrs(a) => {
            if a.get_str("outPath").is_some() || a.get_str("type").is_some() {
                return None;
            }
            let mut out = Vec::new();
            for attr in a.sorted_by_name() {
                if let Some(m) = meta_from_value(ev, &attr.value, depth + 1) {
                    out.push((attr.name.as_str().to_owned(), m));
                }
            }
            MetaValue::Attrs(out)
        }
        _ => return None,
    })
}

fn string_attr(ev: &mut Evaluator, v: &Value, name: &str) -> Option<String> {
    let a = ev.get_attr(v, name).ok()??;
    let a = ev.force(&a).ok()?;
    match a.view()? {
        ValueView::String(s) => Some(s.as_str().to_owned()),
        ValueView::Path(p) => Some(p.to_owned()),
        _ => None,
    }
}

/// Reads one manifest entry (or an evaluated derivation) into a [`Package`] — the fields
/// a manifest has; `outputs` default to `out`.
pub(crate) fn package_from_entry(ev: &mut Evaluator, entry: &Value) -> Result<Package, String> {
    let name = string_attr(ev, entry, "name").ok_or("an entry has no 'name'")?;
    let system = string_attr(ev, entry, "system").unwrap_or_else(|| "unknown".into());
    let mut output_names = Vec::new();
    if let Some(list) = ev.get_attr(entry, "outputs").map_err(|e| e.to_string())? {
        let list = ev.list_items(&list).map_err(|e| e.to_string())?;
        for item in list.iter() {
            let item = ev.force(item).map_err(|e| e.to_string())?;
            if let Some(ValueView::String(s)) = item.view() {
                output_names.push(s.as_str().to_owned());
            }
        }
    }
    if output_names.is_empty() {
        output_names.push("out".into());
    }
    let mut outputs = Vec::new();
    for o in output_names {
        let path = match ev.get_attr(entry, &o).map_err(|e| e.to_string())? {
            Some(out) => string_attr(ev, &out, "outPath"),
            None if o == "out" => string_attr(ev, entry, "outPath"),
            None => None,
        }
        .ok_or_else(|| format!("'{name}' has no path for output '{o}'"))?;
        outputs.push((o, path));
    }
    let mut meta = Vec::new();
    if let Some(m) = ev.get_attr(entry, "meta").ok().flatten() {
        if let Some(MetaValue::Attrs(a)) = meta_from_value(ev, &m, 0) {
            meta = a;
        }
    }
    let source = ev
        .get_attr(entry, "pkgmanSource")
        .ok()
        .flatten()
        .map(|s| SourceRef {
            channel: string_attr(ev, &s, "channel").unwrap_or_default(),
            path: string_attr(ev, &s, "path").unwrap_or_default(),
            nar_hash: string_attr(ev, &s, "narHash").unwrap_or_default(),
        });
    Ok(Package {
        name,
        system,
        outputs,
        meta,
        source,
    })
}

/// Reads the manifest at `path` (a file on the host).
pub fn read(path: &std::path::Path) -> Result<Vec<Package>, ManifestError> {
    let shown = path.display().to_string();
    // One evaluation per process: no cycle collection.
    let mut ev = Evaluator::builder().collect_cycles(false).build();
    let v = ev
        .eval_file(&path.to_string_lossy())
        .map_err(|e| ManifestError::Eval {
            path: shown.clone(),
            message: e
                .render(false)
                .trim_start_matches("error: ")
                .trim_end()
                .to_owned(),
        })?;
    let malformed = |what: String| ManifestError::Malformed {
        path: shown.clone(),
        what,
    };
    let items = ev
        .list_items(&v)
        .map_err(|e| malformed(format!("not a list: {}", e.render(false))))?;
    let mut out = Vec::new();
    for item in items.iter() {
        out.push(package_from_entry(&mut ev, item).map_err(malformed)?);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Package {
        Package {
            name: "hello-1.0".into(),
            system: "x86_64-linux".into(),
            outputs: vec![(
                "out".into(),
                "/nix/store/s03k9fxysjgfqm5k3m3srm7kk79d8j3v-hello-1.0".into(),
            )],
            meta: vec![],
            source: None,
        }
    }

    #[test]
    fn renders_as_nix_env_does() {
        // What CppNix 2.8's nix-env wrote for the example set's hello.
        assert_eq!(
            render(&[sample()]),
            "[ { meta = { }; name = \"hello-1.0\"; out = { outPath = \"/nix/store/s03k9fxysjgfqm5k3m3srm7kk79d8j3v-hello-1.0\"; }; outPath = \"/nix/store/s03k9fxysjgfqm5k3m3srm7kk79d8j3v-hello-1.0\"; outputs = [ \"out\" ]; system = \"x86_64-linux\"; type = \"derivation\"; } ]"
        );
    }

    #[test]
    fn reads_back_what_it_writes() {
        let mut multi = sample();
        multi.name = "multi-2.0pre".into();
        multi.outputs = vec![
            (
                "out".into(),
                "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-multi".into(),
            ),
            (
                "doc".into(),
                "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-multi-doc".into(),
            ),
        ];
        multi.meta = vec![
            (
                "description".into(),
                MetaValue::Str("a \"quoted\" ${x} \\ thing\n".into()),
            ),
            (
                "flags".into(),
                MetaValue::List(vec![MetaValue::Bool(true), MetaValue::Int(-3)]),
            ),
            (
                "nested".into(),
                MetaValue::Attrs(vec![("a-b".into(), MetaValue::Str("c".into()))]),
            ),
            ("priority".into(), MetaValue::Int(7)),
        ];
        multi.source = Some(SourceRef {
            channel: "main".into(),
            path: "/nix/store/cccccccccccccccccccccccccccccccc-main".into(),
            nar_hash: "sha256-abc=".into(),
        });
        let pkgs = vec![sample(), multi];
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("manifest.nix");
        std::fs::write(&file, render(&pkgs)).unwrap();
        let back = read(&file).unwrap();
        assert_eq!(back, pkgs);
        assert_eq!(back[1].priority(), 7);
        assert_eq!(back[0].priority(), DEFAULT_PRIORITY);
    }

    #[test]
    fn malformed_manifests_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("manifest.nix");
        for text in [
            "{ }",
            "[ { } ]",
            "[ (",
            "[ { name = \"x\"; outputs = [ \"dev\" ]; } ]",
        ] {
            std::fs::write(&file, text).unwrap();
            assert!(read(&file).is_err(), "{text}");
        }
    }
}
