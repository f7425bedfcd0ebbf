//! Helpers shared by the protocol tests: finding CppNix, a private store root in a temp
//! dir, spawning `nix-daemon --stdio` or `nix-store --serve --write` over pipes.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use std::collections::BTreeSet;

use nixkit_store::{
    ContentAddress, ContentAddressMethod, FileIngestionMethod, Hash, HashAlgo, PathInfo, StoreDir,
};

/// True if `bin` runs; prints `skipped: ...` otherwise.
pub fn have(bin: &str) -> bool {
    let ok = Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: {bin} not on PATH");
    }
    ok
}

/// A private store: `<tmp>/store`, state, logs and configuration beside it.
pub struct PrivateStore {
    pub dir: tempfile::TempDir,
    pub store: StoreDir,
}

impl PrivateStore {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("nixkit-protocol-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical temp dir");
        for sub in ["store", "var", "log", "etc"] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        std::fs::write(
            root.join("etc/nix.conf"),
            "sandbox = false\nbuild-users-group =\nsubstituters =\nrequire-sigs = false\n",
        )
        .expect("nix.conf");
        let store = StoreDir::new(
            root.join("store")
                .to_str()
                .expect("utf-8 temp dir")
                .to_owned(),
        )
        .expect("store dir");
        PrivateStore { dir, store }
    }

    pub fn root(&self) -> std::path::PathBuf {
        Path::new(self.store.as_str())
            .parent()
            .expect("store parent")
            .to_path_buf()
    }

    /// A command with the store's environment.
    pub fn command(&self, bin: &str) -> Command {
        let root = self.root();
        let mut cmd = Command::new(bin);
        cmd.env("NIX_STORE_DIR", root.join("store"))
            .env("NIX_STATE_DIR", root.join("var"))
            .env("NIX_LOG_DIR", root.join("log"))
            .env("NIX_CONF_DIR", root.join("etc"))
            .env_remove("NIX_REMOTE")
            .env("HOME", root.join("home"));
        cmd
    }

    /// Spawns `bin args` with piped stdin/stdout.
    pub fn spawn(&self, bin: &str, args: &[&str]) -> (Child, ChildStdout, ChildStdin) {
        let mut child = self
            .command(bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let out = child.stdout.take().expect("stdout");
        let inp = child.stdin.take().expect("stdin");
        (child, out, inp)
    }
}

/// The system CppNix builds for here.
pub fn system() -> String {
    format!("{}-linux", std::env::consts::ARCH)
}

/// The ATerm of a fixed-output derivation whose builder writes `content` with `/bin/sh`.
pub fn fixed_output_drv(
    store: &StoreDir,
    name: &str,
    content: &str,
) -> (String, nixkit_store::StorePath) {
    use nixkit_store::{FileIngestionMethod, Hash, HashAlgo};
    let hash = Hash::digest(HashAlgo::Sha256, content.as_bytes());
    let out = store
        .make_fixed_output_path(
            name,
            FileIngestionMethod::Flat,
            &hash,
            &Default::default(),
            false,
        )
        .expect("output path");
    let out_s = store.print_path(&out);
    let script = format!("printf '%s' '{content}' > $out");
    let sys = system();
    let h = hash.to_base16();
    let text = format!(
        "Derive([(\"out\",\"{out_s}\",\"sha256\",\"{h}\")],[],[],\"{sys}\",\"/bin/sh\",[\"-c\",\"{script}\"],\
[(\"builder\",\"/bin/sh\"),(\"name\",\"{name}\"),(\"out\",\"{out_s}\"),(\"outputHash\",\"{h}\"),\
(\"outputHashAlgo\",\"sha256\"),(\"system\",\"{sys}\")])"
    );
    (text, out)
}

/// A content-addressed path holding one flat file, with its NAR.
pub fn flat_file(ps: &PrivateStore, name: &str, data: &[u8]) -> (PathInfo, Vec<u8>) {
    let mut nar = Vec::new();
    nixkit_store::nar::write_flat_file_nar(data, false, &mut nar).expect("nar");
    let nar_hash = Hash::digest(HashAlgo::Sha256, &nar);
    let path = ps
        .store
        .make_fixed_output_path(
            name,
            FileIngestionMethod::Recursive,
            &nar_hash,
            &BTreeSet::new(),
            false,
        )
        .expect("path");
    let mut info = PathInfo::new(path, nar_hash, nar.len() as u64);
    info.ca = Some(ContentAddress {
        method: ContentAddressMethod::Fixed(FileIngestionMethod::Recursive),
        hash: nar_hash,
    });
    (info, nar)
}
