//! Evaluating a package set and choosing packages from it as nix-env does: every
//! derivation the set denotes (nix-env's discovery, `recurseForDerivations`), matched by
//! name (`NAME` or `NAME-VERSION`; per name the lowest `meta.priority` number, then the
//! newest version by `compareVersions`), or selected by attribute path (`-A`).
//!
//! The set is either the channels (each channel's snapshot is an attribute named after the
//! channel, as in `~/.nix-defexpr`) or one file (`-f`).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nixkit_eval::local_store::LocalEvalStore;
use nixkit_eval::{DrvInfo, Evaluator, Value, ValueView};
use nixkit_store::local::{LocalStore, OpenError, StoreConfig};

use crate::channels::Channel;
use crate::manifest::{package_from_entry, MetaValue, Package, SourceRef, DEFAULT_PRIORITY};
use crate::userenv::host_path;
use crate::version::{compare_versions, parse_drv_name, Selector};

/// The system this machine builds for (`x86_64-linux`).
pub fn current_system() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

/// Where packages come from.
#[derive(Debug, Clone)]
pub enum SetSource {
    /// The channels (each must have been updated, i.e. have a snapshot).
    Channels(Vec<Channel>),
    /// A Nix file or a directory with `default.nix` (`-f`).
    File(PathBuf),
}

/// Why a package set could not be read or a package not chosen.
#[derive(Debug, thiserror::Error)]
pub enum PackageSetError {
    /// The store could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// There are no channels and no `-f FILE`.
    #[error("no package set: add a channel ('channel add NAME PATH') or give '-f FILE'")]
    NoChannels,
    /// A channel was never snapshotted into the store.
    #[error("channel '{0}' has no snapshot in this store; run 'channel update'")]
    NotUpdated(String),
    /// Evaluation failed.
    #[error("evaluating {what}: {message}")]
    Eval {
        /// What was being evaluated.
        what: String,
        /// The rendered evaluation error.
        message: String,
    },
    /// No package matches a selector.
    #[error("selector '{0}' matches no derivations")]
    NoMatch(String),
    /// An attribute path names something that holds no derivations.
    #[error("attribute path '{0}' holds no derivations")]
    NoDerivations(String),
    /// An attribute path leads nowhere.
    #[error("attribute '{0}' in selection path not found")]
    NoAttr(String),
    /// A derivation could not be read as a package.
    #[error("package '{name}': {message}")]
    Malformed {
        /// The package.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// A derivation of the set.
#[derive(Debug, Clone)]
pub struct Available {
    /// Its attribute path (`main.hello`).
    pub attr_path: String,
    /// `name` (`hello-1.0`).
    pub name: String,
    /// `system`.
    pub system: String,
    info: DrvInfo,
    root: usize,
}

struct Root {
    prefix: String,
    value: Value,
    source: SourceRef,
}

/// An evaluated package set.
pub struct PackageSet {
    ev: Evaluator,
    store: Arc<LocalEvalStore>,
    roots: Vec<Root>,
    auto_args: Value,
    all: Option<Vec<Available>>,
}

/// An evaluation error's text without its leading `error: ` (the caller adds its own).
fn plain(e: &nixkit_eval::EvalError) -> String {
    let text = e.render(false);
    text.strip_prefix("error: ")
        .unwrap_or(&text)
        .trim_end()
        .to_owned()
}

impl PackageSet {
    /// Evaluates `source` with the store at `config` (derivations are written into it).
    pub fn open(config: &StoreConfig, source: &SetSource) -> Result<Self, PackageSetError> {
        let store = LocalStore::open(config.clone())?;
        let mut files = Vec::new();
        match source {
            SetSource::Channels(list) => {
                if list.is_empty() {
                    return Err(PackageSetError::NoChannels);
                }
                for c in list {
                    let (Some(path), Some(hash)) = (&c.store_path, &c.nar_hash) else {
                        return Err(PackageSetError::NotUpdated(c.name.clone()));
                    };
                    files.push((
                        c.name.clone(),
                        host_path(store.store_dir(), store.real_store_dir(), path),
                        SourceRef {
                            channel: c.name.clone(),
                            path: path.clone(),
                            nar_hash: hash.clone(),
                        },
                    ));
                }
            }
            SetSource::File(f) => {
                let abs = std::path::absolute(f).unwrap_or_else(|_| f.clone());
                files.push((
                    String::new(),
                    abs.clone(),
                    SourceRef {
                        channel: String::new(),
                        path: abs.to_string_lossy().into_owned(),
                        nar_hash: String::new(),
                    },
                ));
            }
        }
        let eval_store = Arc::new(LocalEvalStore::new(store));
        // One evaluation per process: no cycle collection.
        let mut ev = Evaluator::builder()
            .collect_cycles(false)
            .store(eval_store.clone())
            .home(std::env::var("HOME").ok())
            .build();
        let eval_err = |what: &Path| {
            let what = format!("'{}'", what.display());
            move |e: nixkit_eval::EvalError| PackageSetError::Eval {
                what,
                message: plain(&e),
            }
        };
        let auto_args = ev
            .eval_str("{ }", "/")
            .map_err(eval_err(Path::new("{ }")))?;
        let mut roots = Vec::new();
        for (prefix, mut file, source) in files {
            if file.is_dir() {
                file = file.join("default.nix");
            }
            let v = ev
                .eval_file(&file.to_string_lossy())
                .and_then(|v| ev.auto_call(&v, &auto_args))
                .map_err(eval_err(&file))?;
            roots.push(Root {
                prefix,
                value: v,
                source,
            });
        }
        Ok(Self {
            ev,
            store: eval_store,
            roots,
            auto_args,
            all: None,
        })
    }

    /// Ends the evaluation and gives its open store back (`None` if something still
    /// holds it), so that building and switching need not open the store again.
    pub fn into_store(self) -> Option<LocalStore> {
        let Self { ev, store, .. } = self;
        drop(ev);
        Arc::try_unwrap(store).ok().map(LocalEvalStore::into_inner)
    }

    fn eval_err(what: &str) -> impl FnOnce(nixkit_eval::EvalError) -> PackageSetError + '_ {
        move |e| PackageSetError::Eval {
            what: what.to_owned(),
            message: plain(&e),
        }
    }

    fn string_attr(&mut self, info: &DrvInfo, name: &str) -> Option<String> {
        let v = Value::attrs(info.attrs.clone());
        let a = self.ev.get_attr(&v, name).ok()??;
        let a = self.ev.force(&a).ok()?;
        match a.view()? {
            ValueView::String(s) => Some(s.as_str().to_owned()),
            _ => None,
        }
    }

    fn available(&mut self, infos: Vec<DrvInfo>, root: usize, prefix: &str) -> Vec<Available> {
        let mut out = Vec::new();
        for info in infos {
            // A derivation without a name cannot be installed; nix-env skips it too.
            let Some(name) = self.string_attr(&info, "name") else {
                continue;
            };
            let system = self
                .string_attr(&info, "system")
                .unwrap_or_else(|| "unknown".into());
            let attr_path = match (prefix.is_empty(), info.attr_path.is_empty()) {
                (true, _) => info.attr_path.clone(),
                (false, true) => prefix.to_owned(),
                (false, false) => format!("{prefix}.{}", info.attr_path),
            };
            out.push(Available {
                attr_path,
                name,
                system,
                info,
                root,
            });
        }
        out
    }

    /// Every derivation of the set, in attribute order.
    pub fn all(&mut self) -> Result<&[Available], PackageSetError> {
        if self.all.is_none() {
            let mut all = Vec::new();
            for i in 0..self.roots.len() {
                let (value, prefix) = (self.roots[i].value.clone(), self.roots[i].prefix.clone());
                let infos = self
                    .ev
                    .derivations(&value, &self.auto_args)
                    .map_err(Self::eval_err("the package set"))?;
                let found = self.available(infos, i, &prefix);
                all.extend(found);
            }
            self.all = Some(all);
        }
        Ok(self.all.as_deref().unwrap_or_default())
    }

    /// The derivations at attribute path `path` (`hello`, `main.hello`; with channels, a
    /// path not starting with a channel's name is looked up in each channel in turn).
    pub fn by_attr_path(&mut self, path: &str) -> Result<Vec<Available>, PackageSetError> {
        let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
        let mut candidates = Vec::new();
        for (i, r) in self.roots.iter().enumerate() {
            if r.prefix.is_empty() {
                candidates.push((i, parts.clone()));
            } else if parts.first() == Some(&r.prefix.as_str()) {
                candidates.insert(0, (i, parts[1..].to_vec()));
            } else {
                candidates.push((i, parts.clone()));
            }
        }
        'roots: for (i, rest) in candidates {
            let mut v = self.roots[i].value.clone();
            for key in &rest {
                v = self
                    .ev
                    .auto_call(&v, &self.auto_args)
                    .map_err(Self::eval_err(path))?;
                let forced = self.ev.force(&v).map_err(Self::eval_err(path))?;
                if !matches!(forced.view(), Some(ValueView::Attrs(_))) {
                    continue 'roots;
                }
                match self.ev.get_attr(&v, key).map_err(Self::eval_err(path))? {
                    Some(next) => v = next,
                    None => continue 'roots,
                }
            }
            let infos = self
                .ev
                .derivations(&v, &self.auto_args)
                .map_err(Self::eval_err(path))?;
            let mut found = self.available(infos, i, "");
            for a in &mut found {
                a.attr_path = if a.attr_path.is_empty() {
                    path.to_owned()
                } else {
                    format!("{path}.{}", a.attr_path)
                };
            }
            return Ok(found);
        }
        Err(PackageSetError::NoAttr(path.to_owned()))
    }

    /// `meta.priority` of a derivation of the set.
    pub fn priority(&mut self, a: &Available) -> i64 {
        let v = Value::attrs(a.info.attrs.clone());
        let Some(meta) = self.ev.get_attr(&v, "meta").ok().flatten() else {
            return DEFAULT_PRIORITY;
        };
        let Some(p) = self.ev.get_attr(&meta, "priority").ok().flatten() else {
            return DEFAULT_PRIORITY;
        };
        match self.ev.force(&p).ok().as_ref().and_then(Value::view) {
            Some(ValueView::Int(i)) => i,
            Some(ValueView::String(s)) => s.as_str().parse().unwrap_or(DEFAULT_PRIORITY),
            _ => DEFAULT_PRIORITY,
        }
    }

    /// Chooses, for each selector, per package name the best match (lowest priority
    /// number, then newest version). A selector that matches nothing is an error.
    pub fn select(&mut self, selectors: &[Selector]) -> Result<Vec<Available>, PackageSetError> {
        let all = self.all()?.to_vec();
        let mut chosen: Vec<Available> = Vec::new();
        for sel in selectors {
            // Per name: the current system first, then the lowest priority number, then
            // the newest version, as nix-env chooses.
            let mut best: BTreeMap<String, ((bool, i64), Available)> = BTreeMap::new();
            for a in all.iter().filter(|a| sel.matches(&a.name)) {
                let prio = (a.system != current_system(), self.priority(a));
                let pname = parse_drv_name(&a.name).pname;
                let better = match best.get(&pname) {
                    None => true,
                    Some((p, b)) => {
                        prio < *p
                            || (prio == *p
                                && compare_versions(
                                    &parse_drv_name(&a.name).version,
                                    &parse_drv_name(&b.name).version,
                                ) == Ordering::Greater)
                    }
                };
                if better {
                    best.insert(pname, (prio, a.clone()));
                }
            }
            if best.is_empty() {
                return Err(PackageSetError::NoMatch(sel.as_str().to_owned()));
            }
            for (_, (_, a)) in best {
                if !chosen
                    .iter()
                    .any(|c| c.attr_path == a.attr_path && c.name == a.name)
                {
                    chosen.push(a);
                }
            }
        }
        Ok(chosen)
    }

    /// The newest derivation named `pname` (lowest priority number first), if any.
    pub fn newest(&mut self, pname: &str) -> Result<Option<Available>, PackageSetError> {
        match self.select(&[Selector::new(pname)]) {
            Ok(v) => Ok(v
                .into_iter()
                .find(|a| parse_drv_name(&a.name).pname == pname)),
            Err(PackageSetError::NoMatch(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The `.drv` path of `a` (written to the store).
    pub fn drv_path(&mut self, a: &Available) -> Result<String, PackageSetError> {
        let (drv, _) = self
            .ev
            .drv_path_and_output(&a.info)
            .map_err(Self::eval_err(&a.name))?;
        Ok(drv)
    }

    /// The package to install for `a` (its outputs to install: `meta.outputsToInstall`, else
    /// all) and its `.drv` path (written to the store).
    pub fn resolve(&mut self, a: &Available) -> Result<(Package, String), PackageSetError> {
        let malformed = |message: String| PackageSetError::Malformed {
            name: a.name.clone(),
            message,
        };
        let v = Value::attrs(a.info.attrs.clone());
        let mut pkg = package_from_entry(&mut self.ev, &v).map_err(malformed)?;
        if let Some(MetaValue::List(wanted)) = pkg.meta_value("outputsToInstall").cloned() {
            let wanted: Vec<String> = wanted
                .into_iter()
                .filter_map(|w| match w {
                    MetaValue::Str(s) => Some(s),
                    _ => None,
                })
                .collect();
            pkg.outputs.retain(|(n, _)| wanted.contains(n));
        }
        pkg.source = Some(self.roots[a.root].source.clone());
        let drv = self.drv_path(a)?;
        Ok((pkg, drv))
    }
}
