//! Issue 16 through the binaries, servers on 127.0.0.1 only, started here: `nixkit store
//! --realise --option substituters http://…` substitutes a CppNix-made cache (`nix copy
//! --to file://…?compression=xz|zstd`) served by a plain static HTTP server, checking
//! CppNix's signatures; and CppNix 2.8 substitutes from `nixkit serve` (the binary), then
//! `nix-store --verify --check-contents` is clean; CppNix's `nix-build` of the example
//! package set (examples/pkgs) fetches every output from `nixkit serve` over a store nixkit
//! built it into, building nothing; and nixkit builds locally what a tampered cache cannot
//! supply. Skipped when `nix-store` (or busybox, for the package set) is absent.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

mod watchdog;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn have_nix() -> bool {
    Command::new("nix-store")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs CppNix's `cmd`. Each run gets an empty narinfo cache (`XDG_CACHE_HOME`): CppNix
/// remembers answers by cache URL for days, and a loopback port used by an earlier test
/// (another key, other paths) would otherwise answer from that memory.
fn run(cmd: &str, args: &[&str]) -> Output {
    let cache_home = tempfile::tempdir().unwrap();
    let out = watchdog::output_within(
        Command::new(cmd)
            .args(args)
            .env("NIX_CONFIG", "")
            .env("XDG_CACHE_HOME", cache_home.path()),
        watchdog::LIMIT,
    );
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A static file server over `root` (one thread per connection, `Connection: close`).
fn static_server(root: &Path) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || serve_file(conn, &root));
        }
    });
    url
}

fn serve_file(mut conn: TcpStream, root: &Path) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/");
    let file = root.join(target.trim_start_matches('/'));
    let response = match fs::read(&file) {
        Ok(body) if !target.contains("..") => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend(body);
            r
        }
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    };
    let _ = conn.write_all(&response);
}

/// Two CppNix paths, `b` referring to `a`, in a CppNix store at `root`, without content
/// addresses (made in `root.ca`, then moved through the export format, which carries none),
/// so only a trusted signature lets a client accept them; returns (a, b).
fn cppnix_closure(root: &str) -> (String, String) {
    let ca_store = format!("local?root={root}.ca");
    let out = run(
        "nix-instantiate",
        &[
            "--store",
            &ca_store,
            "--read-write-mode",
            "--eval",
            "--strict",
            "--json",
            "-E",
            r#"let a = builtins.toFile "http-a" "payload A\n"; in [ a (builtins.toFile "http-b" "uses ${a}\n") ]"#,
        ],
    );
    let list: Vec<String> = text(&out)
        .trim_matches(['[', ']'])
        .split(',')
        .map(|s| s.trim_matches('"').to_owned())
        .collect();
    let (a, b) = (list[0].clone(), list[1].clone());
    let export = run("nix-store", &["--store", &ca_store, "--export", &a, &b]);
    let mut import = Command::new("nix-store")
        .args(["--store", &format!("local?root={root}"), "--import"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    import
        .stdin
        .take()
        .unwrap()
        .write_all(&export.stdout)
        .unwrap();
    assert!(import.wait().unwrap().success());
    (a, b)
}

fn nixkit(store: &Path, args: &[&str]) -> Output {
    watchdog::output_within(
        Command::new(env!("CARGO_BIN_EXE_nixkit"))
            // The narinfo cache on disk: the test's own, not one that outlives it.
            .env("XDG_CACHE_HOME", store.with_extension("xdg-cache"))
            .arg("store")
            .args(["--store", store.to_str().unwrap()])
            .args(args),
        watchdog::LIMIT,
    )
}

#[test]
fn nixkit_substitutes_from_a_cppnix_cache_over_http() {
    if !have_nix() {
        println!("skipped: nix-store (CppNix) is not on PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).to_str().unwrap().to_owned();
    run(
        "nix-store",
        &[
            "--generate-binary-cache-key",
            "cppnix-http-1",
            &t("sk"),
            &t("pk"),
        ],
    );
    let pk = fs::read_to_string(t("pk")).unwrap().trim().to_owned();
    let (a, b) = cppnix_closure(&t("cpp"));
    for compression in ["xz", "zstd"] {
        let cache = t(&format!("cache-{compression}"));
        run(
            "nix",
            &[
                "--extra-experimental-features",
                "nix-command",
                "copy",
                "--store",
                &format!("local?root={}", t("cpp")),
                "--to",
                &format!(
                    "file://{cache}?compression={compression}&secret-key={}",
                    t("sk")
                ),
                &b,
            ],
        );
        let ext = if compression == "xz" {
            ".nar.xz"
        } else {
            ".nar.zst"
        };
        assert!(
            fs::read_dir(Path::new(&cache).join("nar"))
                .unwrap()
                .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(ext)),
            "{compression}"
        );
        let url = static_server(Path::new(&cache));
        let ours = PathBuf::from(t(&format!("ours-{compression}")));
        // Without the key: refused, naming the cache and the path, nothing registered.
        let out = nixkit(&ours, &["--realise", &b, "--option", "substituters", &url]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(&url) && stderr.contains(&b), "{stderr}");
        assert!(stderr.contains("signature"), "{stderr}");
        // With it: the closure arrives and verifies.
        let out = nixkit(
            &ours,
            &[
                "--realise",
                &b,
                "--option",
                "substituters",
                &url,
                "--option",
                "trusted-public-keys",
                &pk,
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(text(&out), b);
        // The narinfos were remembered in the cache file of `XDG_CACHE_HOME`.
        let cache_file = ours
            .with_extension("xdg-cache")
            .join("nixkit/binary-cache.sqlite");
        assert!(cache_file.is_file(), "{}", cache_file.display());
        let refs = nixkit(&ours, &["--query", "--references", &b]);
        assert_eq!(text(&refs), a);
        let verify = nixkit(&ours, &["--verify", "--check-contents"]);
        assert!(verify.status.success(), "{verify:?}");
        // Another process with the same cache file substitutes into another store with
        // the narinfos gone from the server: they come from the file.
        for entry in fs::read_dir(&cache).unwrap() {
            let entry = entry.unwrap().path();
            if entry.extension().is_some_and(|e| e == "narinfo") {
                fs::remove_file(entry).unwrap();
            }
        }
        let again = watchdog::output_within(
            Command::new(env!("CARGO_BIN_EXE_nixkit"))
                .env("XDG_CACHE_HOME", ours.with_extension("xdg-cache"))
                .args(["store", "--store", &t(&format!("again-{compression}"))])
                .args(["--realise", &b, "--option", "substituters", &url])
                .args(["--option", "trusted-public-keys", &pk]),
            watchdog::LIMIT,
        );
        assert!(again.status.success(), "{again:?}");
        assert_eq!(text(&again), b);
        let ours_hash = text(&nixkit(&ours, &["--query", "--hash", &b]));
        let cpp_hash = text(&run(
            "nix-store",
            &[
                "--store",
                &format!("local?root={}", t("cpp")),
                "--query",
                "--hash",
                &b,
            ],
        ));
        assert_eq!(ours_hash, cpp_hash);
    }
}

/// Starts `nixkit serve` (the binary) over the store at `store`, signing with the key in
/// `sk`; returns it (killed when dropped) and its URL.
fn serve(store: &str, sk: &str) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .args(["serve", "--store", store, "--listen", "127.0.0.1:0"])
        .args(["--sign-key", sk, "--priority", "40"])
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
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    (server, url)
}

/// Kills the server when the test ends, pass or fail.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn cppnix_substitutes_from_the_nixkit_serve_binary() {
    if !have_nix() {
        println!("skipped: nix-store (CppNix) is not on PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).to_str().unwrap().to_owned();
    // A closure in a nixkit store, by way of CppNix's export format.
    let (a, b) = cppnix_closure(&t("cpp"));
    let export = run(
        "nix-store",
        &[
            "--store",
            &format!("local?root={}", t("cpp")),
            "--export",
            &a,
            &b,
        ],
    );
    let served = PathBuf::from(t("served"));
    let mut import = Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .args(["store", "--store", &t("served"), "--import"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    import
        .stdin
        .take()
        .unwrap()
        .write_all(&export.stdout)
        .unwrap();
    assert!(import.wait().unwrap().success());
    let out = nixkit(
        &served,
        &[
            "--generate-binary-cache-key",
            "nixkit-serve-1",
            &t("sk"),
            &t("pk"),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let pk = fs::read_to_string(t("pk")).unwrap().trim().to_owned();

    let (server, url) = serve(&t("served"), &t("sk"));

    let store = format!("local?root={}", t("cpp2"));
    let out = run(
        "nix-store",
        &[
            "--store",
            &store,
            "--realise",
            &b,
            "--option",
            "substituters",
            &url,
            "--option",
            "trusted-public-keys",
            &pk,
        ],
    );
    assert_eq!(text(&out), b);
    let refs = run(
        "nix-store",
        &["--store", &store, "--query", "--references", &b],
    );
    assert_eq!(text(&refs), a);
    run(
        "nix-store",
        &["--store", &store, "--verify", "--check-contents"],
    );
    drop(server);
}

/// The example package set built by nixkit, its store served by `nixkit serve`, and
/// CppNix's `nix-build` of the same expression with `--max-jobs 0` (nothing may be built
/// here): every output comes from the server, and the store verifies.
#[test]
fn cppnix_nix_build_substitutes_the_package_set_from_nixkit_serve() {
    if !have_nix() {
        println!("skipped: nix-store (CppNix) is not on PATH");
        return;
    }
    if !busybox_usable() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).to_str().unwrap().to_owned();
    let pkgs = PKGS;
    let (built, _) = build_package_set(tmp.path(), &t("served"), &[]);
    let mut ours = built;
    ours.sort();
    assert!(!ours.is_empty());
    let out = nixkit(
        Path::new(&t("served")),
        &["--generate-binary-cache-key", "pkgs-1", &t("sk"), &t("pk")],
    );
    assert!(out.status.success(), "{out:?}");
    let pk = fs::read_to_string(t("pk")).unwrap().trim().to_owned();
    let (server, url) = serve(&t("served"), &t("sk"));

    let store = format!("local?root={}", t("cpp"));
    let out = run(
        "nix-build",
        &[
            pkgs,
            "-A",
            "all",
            "--no-out-link",
            "--max-jobs",
            "0",
            "--store",
            &store,
            "--option",
            "substituters",
            &url,
            "--option",
            "trusted-public-keys",
            &pk,
        ],
    );
    let mut theirs: Vec<String> = text(&out).lines().map(str::to_owned).collect();
    theirs.sort();
    assert_eq!(theirs, ours);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("will be built"), "{err}");
    run(
        "nix-store",
        &["--store", &store, "--verify", "--check-contents"],
    );
    drop(server);
}

const PKGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pkgs");

fn busybox_usable() -> bool {
    let ok = Path::new("/bin/busybox").exists()
        && Command::new("/bin/busybox")
            .args(["unshare", "-Ur", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        println!("skipped: needs busybox-static and user namespaces");
    }
    ok
}

/// `nixkit build examples/pkgs -A all` into the store at `store` with `extra` flags;
/// returns the output paths and standard error.
fn build_package_set(dir: &Path, store: &str, extra: &[&str]) -> (Vec<String>, String) {
    let built = watchdog::output_within(
        Command::new(env!("CARGO_BIN_EXE_nixkit"))
            .current_dir(dir)
            .env("XDG_CACHE_HOME", dir.join("xdg-cache"))
            .args(["build", PKGS, "-A", "all", "-j", "2", "--no-out-link"])
            .args(["--store", store])
            .args(extra),
        watchdog::LIMIT,
    );
    assert!(built.status.success(), "{built:?}");
    let outs = text(&built).lines().map(str::to_owned).collect();
    (outs, String::from_utf8_lossy(&built.stderr).into_owned())
}

/// A cache whose NAR of one output of the package set is tampered with: nixkit's build
/// substitutes what it can, builds the rest (the tampered output among them) locally, and
/// ends with the same outputs and a store that verifies.
#[test]
fn a_tampered_substitute_is_built_locally_instead() {
    if !busybox_usable() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).to_str().unwrap().to_owned();
    let (mut ours, _) = build_package_set(tmp.path(), &t("first"), &[]);
    ours.sort();
    let first = PathBuf::from(t("first"));
    let out = nixkit(
        &first,
        &["--generate-binary-cache-key", "pkgs-1", &t("sk"), &t("pk")],
    );
    assert!(out.status.success(), "{out:?}");
    let pk = fs::read_to_string(t("pk")).unwrap().trim().to_owned();
    let cache = t("cache");
    let mut copy = vec![
        "--copy-to".to_owned(),
        format!("file://{cache}"),
        "--sign-key".to_owned(),
        t("sk"),
        "--compression".to_owned(),
        "none".to_owned(),
    ];
    copy.extend(ours.iter().cloned());
    let copy: Vec<&str> = copy.iter().map(String::as_str).collect();
    let out = nixkit(&first, &copy);
    assert!(out.status.success(), "{out:?}");
    // The NAR of the first output (by name order), one byte flipped.
    let victim = &ours[0];
    let hash = victim
        .trim_start_matches("/nix/store/")
        .split('-')
        .next()
        .unwrap();
    let narinfo = fs::read_to_string(format!("{cache}/{hash}.narinfo")).unwrap();
    let url = narinfo
        .lines()
        .find_map(|l| l.strip_prefix("URL: "))
        .unwrap();
    let nar = format!("{cache}/{url}");
    let mut data = fs::read(&nar).unwrap();
    let at = data.len() - 9;
    data[at] ^= 0x55;
    fs::write(&nar, data).unwrap();
    let url = static_server(Path::new(&cache));

    let (mut theirs, stderr) = build_package_set(
        tmp.path(),
        &t("second"),
        &[
            "--option",
            "substituters",
            &url,
            "--option",
            "trusted-public-keys",
            &pk,
        ],
    );
    theirs.sort();
    assert_eq!(theirs, ours);
    let victim_name = victim.split_once('-').unwrap().1;
    assert!(
        stderr.contains("building") && stderr.contains(victim_name),
        "{stderr}"
    );
    assert!(
        stderr.contains("from a binary cache") || stderr.contains(&url),
        "{stderr}"
    );
    let out = nixkit(Path::new(&t("second")), &["--verify", "--check-contents"]);
    assert!(out.status.success(), "{out:?}");
}
