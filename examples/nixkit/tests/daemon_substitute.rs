//! `nixkit daemon --option substituters http://…` substitutes for its clients from a
//! `nixkit serve` cache, and a client's `--option narinfo-cache-negative-ttl 0` (nixkit's
//! CLI, and CppNix 2.8's `nix-store` when present) reaches the daemon's cache: a path the
//! daemon remembers as absent is asked for again and substituted. Servers on 127.0.0.1.
//! CppNix 2.8's `nix-store --option trusted-public-keys …` / `--option require-sigs false`
//! decide which substitutes the daemon accepts for a trusted client, not for an untrusted one;
//! CppNix's `nix copy` to the daemon has it substitute first (`QueryValidPaths`' flag).
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn nixkit() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nixkit"));
    c.env_remove("NIX_REMOTE");
    c
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn serve(store: &Path) -> (Killed, String) {
    let mut child = nixkit()
        .args(["serve", "--store", store.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Killed(child);
    let mut first = String::new();
    BufReader::new(stderr).read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    (server, url)
}

fn daemon(dir: &Path, url: &str) -> (Killed, PathBuf) {
    daemon_with(dir, &[("substituters", url), ("require-sigs", "false")])
}

/// `nixkit daemon` in `dir` with `options` (`--option NAME VALUE` each).
fn daemon_with(dir: &Path, options: &[(&str, &str)]) -> (Killed, PathBuf) {
    let socket = dir.join("socket");
    let mut command = nixkit();
    command
        .arg("daemon")
        .arg("--store")
        .arg(dir.join("root"))
        .arg("--socket")
        .arg(&socket);
    for (name, value) in options {
        command.args(["--option", name, value]);
    }
    let child = command
        // The daemon's narinfo cache file.
        .env("XDG_CACHE_HOME", dir.join("daemon-cache"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let child = Killed(child);
    let start = Instant::now();
    while !socket.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "no daemon");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, socket)
}

/// CppNix's `nix-store --realise PATH EXTRA…` against the daemon at `remote`, without the
/// machine's own configuration.
fn cppnix_realise(remote: &str, path: &str, extra: &[&str]) -> Output {
    Command::new("nix-store")
        .args(["--store", remote, "--realise", path])
        .args(extra)
        .env_remove("NIX_REMOTE")
        .env("NIX_CONFIG", "")
        .output()
        .unwrap()
}

fn have_nix_store() -> bool {
    Command::new("nix-store")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Realises a path (with extra arguments) through the daemon.
type Realise<'a> = dyn Fn(&str, &[&str]) -> Output + 'a;

#[test]
fn clients_negative_ttl_reaches_the_daemons_substituter() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |s: &str| tmp.path().join(s);
    let served = t("served");
    let (_server, url) = serve(&served);
    let (_daemon, socket) = daemon(tmp.path(), &url);
    let remote = format!("unix://{}", socket.display());
    let mut clients: Vec<(&str, Box<Realise<'_>>)> = vec![(
        "nixkit",
        Box::new(|path: &str, extra: &[&str]| {
            nixkit()
                .args(["store", "--store", &remote, "--realise", path])
                .args(extra)
                .output()
                .unwrap()
        }),
    )];
    if have_nix_store() {
        clients.push((
            "cppnix",
            Box::new(|path: &str, extra: &[&str]| cppnix_realise(&remote, path, extra)),
        ));
    } else {
        println!("skipped: the CppNix client part (nix-store is not on PATH)");
    }
    for (name, realise) in &clients {
        let file = t(&format!("{name}.txt"));
        std::fs::write(&file, format!("substituted for {name}\n")).unwrap();
        let add = |store: &Path| {
            ok(nixkit()
                .args(["store", "--store", store.to_str().unwrap(), "--add"])
                .arg(&file)
                .output()
                .unwrap())
        };
        let path = add(&t("elsewhere"));
        // Not in the cache yet: the daemon remembers that (for an hour by default).
        assert!(!realise(&path, &[]).status.success(), "{name}");
        assert_eq!(add(&served), path);
        let again = realise(&path, &[]);
        assert!(
            !again.status.success(),
            "{name}: the absent answer was remembered"
        );
        let out = realise(&path, &["--option", "narinfo-cache-negative-ttl", "0"]);
        assert_eq!(ok(out), path, "{name}");
        let valid = nixkit()
            .args(["store", "--store", &remote, "--verify-path", &path])
            .output()
            .unwrap();
        assert!(valid.status.success(), "{name}");
    }
}

/// Input-addressed paths (no content address: substituting one needs a trusted signature
/// unless signatures are not required) named `names`, in a `file://` cache at `dir`, signed
/// with `key` if given; returns the cache's URL and the paths as printed.
fn input_addressed_cache(
    dir: &Path,
    names: &[&str],
    key: Option<&nixkit_store::binary_cache::SecretKey>,
) -> (String, Vec<String>) {
    use nixkit_store::binary_cache::{Compression, FileCache};
    use nixkit_store::local::{LocalStore, StoreConfig};
    use nixkit_store::{Hash, HashAlgo, PathInfo, StoreDir};
    let store_dir = StoreDir::default();
    let store = LocalStore::open(StoreConfig::new(dir.join("src"), store_dir.clone())).unwrap();
    let mut paths = std::collections::BTreeSet::new();
    for name in names {
        let mut nar = Vec::new();
        nixkit_store::nar::write_flat_file_nar(format!("built {name}").as_bytes(), false, &mut nar)
            .unwrap();
        let digest = |b: &[u8]| Hash::digest(HashAlgo::Sha256, b);
        let path = store_dir
            .make_store_path("output:out", &digest(name.as_bytes()), name)
            .unwrap();
        let info = PathInfo::new(path.clone(), digest(&nar), nar.len() as u64);
        store.add_nar(&info, &mut nar.as_slice()).unwrap();
        paths.insert(path);
    }
    let cache_dir = dir.join("cache");
    let cache = FileCache::new(cache_dir.to_str().unwrap(), store_dir.clone()).unwrap();
    cache
        .copy_closure(&store, &paths, Compression::Zstd, key)
        .unwrap();
    let printed = names
        .iter()
        .map(|n| {
            let p = paths.iter().find(|p| p.name() == *n).unwrap();
            store_dir.print_path(p)
        })
        .collect();
    (format!("file://{}", cache_dir.display()), printed)
}

#[test]
fn cppnix_clients_signature_options_apply_only_when_trusted() {
    if !have_nix_store() {
        println!("skipped: nix-store (CppNix) is not on PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = |s: &str| tmp.path().join(s);
    let key = nixkit_store::binary_cache::SecretKey::generate("cache.example-1").unwrap();
    let public = key.public_key().to_text();
    for (kind, trusted_users) in [("trusted", "*"), ("untrusted", "nobody-at-all")] {
        let trusted = kind == "trusted";
        std::fs::create_dir_all(t(kind)).unwrap();
        let (signed_url, signed) = input_addressed_cache(
            &t(&format!("{kind}-signed")),
            &[&format!("{kind}-by-key"), &format!("{kind}-plain")],
            Some(&key),
        );
        let (unsigned_url, unsigned) =
            input_addressed_cache(&t(&format!("{kind}-unsigned")), &[kind], None);
        // The daemon trusts no key and requires signatures.
        let urls = format!("{signed_url} {unsigned_url}");
        let (_daemon, socket) = daemon_with(
            &t(kind),
            &[
                ("substituters", &urls),
                ("require-sigs", "true"),
                ("trusted-users", trusted_users),
            ],
        );
        let remote = format!("unix://{}", socket.display());
        let realise = |path: &str, extra: &[&str]| cppnix_realise(&remote, path, extra);
        let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
        // Without the client's options: the cache's signature is not trusted.
        let plain = realise(&signed[1], &[]);
        assert!(!plain.status.success(), "{kind}");
        assert!(
            stderr(&plain).contains("signature"),
            "{kind}: {}",
            stderr(&plain)
        );
        let by_key = realise(&signed[0], &["--option", "trusted-public-keys", &public]);
        let unsigned_ok = realise(&unsigned[0], &["--option", "require-sigs", "false"]);
        if trusted {
            assert_eq!(ok(by_key), signed[0]);
            assert_eq!(ok(unsigned_ok), unsigned[0]);
        } else {
            assert!(!by_key.status.success(), "{kind}");
            assert!(
                stderr(&by_key).contains("not a trusted user"),
                "{kind}: {}",
                stderr(&by_key)
            );
            assert!(!unsigned_ok.status.success(), "{kind}");
        }
        // What the daemon's store holds now.
        for (path, want) in [
            (&signed[0], trusted),
            (&signed[1], false),
            (&unsigned[0], trusted),
        ] {
            let valid = nixkit()
                .args(["store", "--store", &remote, "--verify-path", path])
                .output()
                .unwrap();
            assert_eq!(valid.status.success(), want, "{kind}: {path}");
        }
    }
}

#[test]
fn cppnix_nix_copy_asks_the_daemon_to_substitute_first() {
    let have_nix = Command::new("nix")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_nix {
        println!("skipped: nix (CppNix) is not on PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = |s: &str| tmp.path().join(s);
    let key = nixkit_store::binary_cache::SecretKey::generate("cache.example-1").unwrap();
    // The same path in the daemon's cache (signed by a key it trusts) and, unsigned, in the
    // cache `nix copy` copies from: an untrusted client cannot add it unsigned, so it
    // becomes valid only if the daemon substitutes it (`QueryValidPaths`' substitute flag,
    // asked before copying).
    let (signed_url, paths) = input_addressed_cache(&t("signed"), &["copied"], Some(&key));
    let (unsigned_url, _) = input_addressed_cache(&t("unsigned"), &["copied"], None);
    std::fs::create_dir_all(t("daemon")).unwrap();
    let public = key.public_key().to_text();
    let (_daemon, socket) = daemon_with(
        &t("daemon"),
        &[
            ("substituters", &signed_url),
            ("require-sigs", "true"),
            ("trusted-public-keys", &public),
            ("trusted-users", "nobody-at-all"),
        ],
    );
    let remote = format!("unix://{}", socket.display());
    let copy = |extra: &[&str]| {
        Command::new("nix")
            .args(["--extra-experimental-features", "nix-command", "copy"])
            .args(["--from", &unsigned_url, "--to", &remote])
            .args(extra)
            .arg(&paths[0])
            .env_remove("NIX_REMOTE")
            .env("NIX_CONFIG", "")
            .output()
            .unwrap()
    };
    let plain = copy(&[]);
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(!plain.status.success(), "{stderr}");
    assert!(stderr.contains("signature"), "{stderr}");
    // CppNix 2.8's client sends `builders-use-substitutes` as the flag (not
    // `--substitute-on-destination`).
    let out = copy(&["--option", "builders-use-substitutes", "true"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let valid = nixkit()
        .args(["store", "--store", &remote, "--verify-path", &paths[0]])
        .output()
        .unwrap();
    assert!(valid.status.success());
}
