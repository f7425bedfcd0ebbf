//! Test helpers: a temporary local store with busybox in it, and derivations whose builder
//! is a busybox shell script.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use nixkit_derivation::{fill_output_paths, Derivation, DerivationOutput};
use nixkit_sandbox::{realise, Event, RealiseError, RealiseOptions, Realised};
use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::{
    ContentAddress, ContentAddressMethod, FileIngestionMethod, Hash, HashAlgo, StoreDir, StorePath,
};

pub const BUSYBOX: &str = "/bin/busybox";

/// True (with a note) when the host cannot run these tests.
pub fn unsupported() -> bool {
    if !Path::new(BUSYBOX).exists() {
        eprintln!("skipping: {BUSYBOX} is missing (apt-get install busybox-static)");
        return true;
    }
    let ok = std::process::Command::new(BUSYBOX)
        .args(["unshare", "-Ur", "true"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipping: user namespaces are not available");
    }
    !ok
}

pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub store: Mutex<LocalStore>,
    pub busybox: StorePath,
    pub drvs: HashMap<StorePath, Derivation>,
    /// Store paths every derivation made from now on has as inputs.
    pub extra_srcs: Vec<StorePath>,
}

impl TestStore {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(StoreConfig::new(
            dir.path().join("root"),
            StoreDir::default(),
        ))
        .unwrap();
        let src = dir.path().join("busybox-src");
        std::fs::create_dir(&src).unwrap();
        std::fs::copy(BUSYBOX, src.join("busybox")).unwrap();
        let busybox = store
            .add_to_store(
                "busybox",
                &src,
                FileIngestionMethod::Recursive,
                HashAlgo::Sha256,
            )
            .unwrap();
        Self {
            dir,
            store: Mutex::new(store),
            busybox,
            drvs: HashMap::new(),
            extra_srcs: Vec::new(),
        }
    }

    pub fn print(&self, p: &StorePath) -> String {
        self.store.lock().unwrap().store_dir().print_path(p)
    }

    pub fn sh(&self) -> String {
        format!("{}/busybox", self.print(&self.busybox))
    }

    /// A derivation running `script` with busybox `sh -e -c`.
    pub fn drv(
        &mut self,
        name: &str,
        script: &str,
        env: &[(&str, &str)],
        outputs: &[&str],
        inputs: &[(&StorePath, &[&str])],
    ) -> StorePath {
        self.make(name, script, env, outputs, inputs, None)
    }

    /// A fixed-output derivation (flat sha256) running `script`.
    pub fn fod(&mut self, name: &str, script: &str, hash: Hash) -> StorePath {
        self.make(name, script, &[], &["out"], &[], Some(hash))
    }

    /// The attacker's tools (tests/fixtures/attack.c) built with `cc -static` and added to
    /// the store, and made an input of every derivation made after this call; `None` (with a
    /// note) when there is no C compiler with a static libc.
    pub fn attack_tool(&mut self) -> Option<String> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/attack.c");
        let dir = self.dir.path().join("attack-src");
        std::fs::create_dir_all(&dir).unwrap();
        let ok = std::process::Command::new("cc")
            .args(["-static", "-O1", "-o"])
            .arg(dir.join("attack"))
            .arg(&src)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("skipped: cannot build the attack tool with `cc -static`");
            return None;
        }
        let p = self
            .store
            .lock()
            .unwrap()
            .add_to_store(
                "attack",
                &dir,
                FileIngestionMethod::Recursive,
                HashAlgo::Sha256,
            )
            .unwrap();
        let path = format!("{}/attack", self.print(&p));
        self.extra_srcs.push(p);
        Some(path)
    }

    /// A `builtin:fetchurl` derivation of `url` whose flat sha256 is `hash`.
    pub fn fetchurl(&mut self, name: &str, url: &str, hash: Hash) -> StorePath {
        self.fetchurl_with(name, url, hash, FileIngestionMethod::Flat, &[])
    }

    /// A `builtin:fetchurl` derivation with output hash mode `method` and more attributes
    /// (`executable`, `unpack`).
    pub fn fetchurl_with(
        &mut self,
        name: &str,
        url: &str,
        hash: Hash,
        method: FileIngestionMethod,
        extra: &[(&str, &str)],
    ) -> StorePath {
        let mut drv = Derivation {
            name: name.into(),
            system: "builtin".into(),
            builder: "builtin:fetchurl".into(),
            ..Derivation::default()
        };
        drv.outputs.insert(
            "out".into(),
            DerivationOutput::CaFixed(ContentAddress {
                method: ContentAddressMethod::Fixed(method),
                hash,
            }),
        );
        let mode = if method == FileIngestionMethod::Flat {
            "flat"
        } else {
            "recursive"
        };
        for (k, v) in [
            ("name", name),
            ("builder", "builtin:fetchurl"),
            ("system", "builtin"),
            ("url", url),
            ("outputHashMode", mode),
            ("out", ""),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        {
            drv.env.insert(k.into(), v.into());
        }
        drv.env.insert("outputHash".into(), hash.to_sri());
        self.finish(drv, name)
    }

    fn make(
        &mut self,
        name: &str,
        script: &str,
        env: &[(&str, &str)],
        outputs: &[&str],
        inputs: &[(&StorePath, &[&str])],
        fixed: Option<Hash>,
    ) -> StorePath {
        let mut drv = Derivation {
            name: name.into(),
            system: format!("{}-linux", std::env::consts::ARCH),
            builder: self.sh(),
            args: vec!["sh".into(), "-e".into(), "-c".into(), script.into()],
            ..Derivation::default()
        };
        drv.input_srcs.insert(self.busybox.clone());
        drv.input_srcs.extend(self.extra_srcs.iter().cloned());
        for (p, outs) in inputs {
            drv.input_drvs
                .insert((*p).clone(), outs.iter().map(|s| s.to_string()).collect());
        }
        let mut env_map: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in [
            ("name", name),
            ("builder", &drv.builder.clone()),
            ("system", &drv.system.clone()),
        ] {
            env_map.insert(k.into(), v.into());
        }
        env_map.insert("PATH".into(), self.print(&self.busybox));
        for (k, v) in env {
            env_map.insert((*k).into(), (*v).into());
        }
        if let Some(hash) = fixed {
            drv.outputs.insert(
                "out".into(),
                DerivationOutput::CaFixed(ContentAddress {
                    method: ContentAddressMethod::Fixed(FileIngestionMethod::Flat),
                    hash,
                }),
            );
            env_map.insert("outputHash".into(), hash.to_sri());
            env_map.insert("out".into(), String::new());
        } else {
            env_map.insert("outputs".into(), outputs.join(" "));
            for o in outputs {
                drv.outputs.insert((*o).into(), DerivationOutput::Deferred);
                env_map.insert((*o).into(), String::new());
            }
        }
        drv.env = env_map;
        self.finish(drv, name)
    }

    fn finish(&mut self, mut drv: Derivation, name: &str) -> StorePath {
        let store_dir = StoreDir::default();
        fill_output_paths(&mut drv, &store_dir, &self.drvs, &mut Default::default()).unwrap();
        let aterm = drv.to_aterm(&store_dir).unwrap();
        let refs: BTreeSet<StorePath> = drv.references();
        let path = self
            .store
            .lock()
            .unwrap()
            .add_text_to_store(&format!("{name}.drv"), aterm.as_bytes(), &refs)
            .unwrap();
        assert_eq!(path, drv.drv_path(&store_dir).unwrap());
        self.drvs.insert(path.clone(), drv);
        path
    }

    pub fn out(&self, drv: &StorePath, output: &str) -> StorePath {
        self.drvs[drv]
            .output_path(&StoreDir::default(), output)
            .unwrap()
            .unwrap()
    }

    pub fn real(&self, p: &StorePath) -> std::path::PathBuf {
        self.store.lock().unwrap().real_path(p)
    }

    pub fn is_valid(&self, p: &StorePath) -> bool {
        self.store.lock().unwrap().is_valid(p).unwrap()
    }

    pub fn build_with(
        &self,
        drvs: &[StorePath],
        opts: &RealiseOptions,
    ) -> Result<Realised, RealiseError> {
        let log = Mutex::new(Vec::new());
        let r = realise(&self.store, drvs, opts, &|e| {
            if let Event::Output { data, .. } = e {
                log.lock().unwrap().extend_from_slice(data);
            }
        });
        eprint!("{}", String::from_utf8_lossy(&log.lock().unwrap()));
        r
    }

    pub fn build(&self, drv: &StorePath) -> Result<Realised, RealiseError> {
        self.build_with(std::slice::from_ref(drv), &RealiseOptions::default())
    }
}
