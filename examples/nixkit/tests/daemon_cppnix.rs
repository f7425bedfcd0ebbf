//! CppNix 2.8's own clients against `nixkit daemon` (`--store unix://SOCKET`): `nix-store
//! --add/--dump/--gc`, `nix-build` of the busybox package set, `nix-env -i` (whose
//! `builtin:buildenv` user environment must be bit-identical to the one CppNix builds in a
//! store of its own), and the refusals an untrusted user meets. Skipped without CppNix,
//! busybox or user namespaces.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn usable() -> bool {
    let runs = |bin: &str, args: &[&str]| {
        Command::new(bin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ok = runs("nix-store", &["--version"])
        && Path::new("/bin/busybox").exists()
        && runs("/bin/busybox", &["unshare", "-Ur", "true"]);
    if !ok {
        eprintln!("skipped: needs CppNix (nix-store), busybox-static and user namespaces");
    }
    ok
}

struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn start(options: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("socket");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nixkit"));
        cmd.arg("daemon")
            .arg("--store")
            .arg(dir.path().join("root"))
            .arg("--socket")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in options {
            cmd.args(["--option", k, v]);
        }
        let child = cmd.spawn().unwrap();
        let start = Instant::now();
        while !socket.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "daemon did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        for sub in ["state", "home", "conf"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Daemon { child, dir, socket }
    }

    /// A CppNix command talking to the daemon, with state of its own. CppNix's client
    /// reads a daemon's store files directly (a `unix://` store is a local file system
    /// store to it), so it is told where they are with `root`.
    fn cpp(&self, bin: &str) -> Command {
        let mut cmd = Command::new(bin);
        cmd.arg("--store")
            .arg(format!(
                "unix://{}?root={}",
                self.socket.display(),
                self.dir.path().join("root").display()
            ))
            .current_dir(self.dir.path())
            .env_remove("NIX_REMOTE")
            .env("NIX_STATE_DIR", self.dir.path().join("state"))
            .env("NIX_CONF_DIR", self.dir.path().join("conf"))
            .env("HOME", self.dir.path().join("home"));
        cmd
    }

    fn real(&self, logical: &str) -> PathBuf {
        self.dir
            .path()
            .join("root")
            .join(logical.trim_start_matches('/'))
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn pkgs() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../pkgs")
}

#[test]
fn cppnix_clients_add_build_install_and_collect() {
    if !usable() {
        return;
    }
    let d = Daemon::start(&[]);
    let file = d.dir.path().join("note.txt");
    std::fs::write(&file, "a note\n").unwrap();
    let added = ok(run(d.cpp("nix-store").arg("--add").arg(&file)));
    assert!(added.starts_with("/nix/store/") && added.ends_with("-note.txt"));
    assert_eq!(std::fs::read_to_string(d.real(&added)).unwrap(), "a note\n");
    let hash = ok(run(d.cpp("nix-store").args(["-q", "--hash", &added])));
    let direct = ok(run(Command::new("nix-hash")
        .args(["--type", "sha256", "--base32"])
        .arg(&file)));
    assert_eq!(
        hash,
        format!("sha256:{direct}"),
        "the NAR hash recorded is the file's"
    );
    let exported = run(d.cpp("nix-store").args(["--export", &added]));
    assert!(exported.status.success());
    assert!(
        exported.stdout.windows(7).any(|w| w == b"a note\n"),
        "the export holds the contents"
    );

    // nix-build: evaluated by CppNix, built by nixkit's sandbox through the daemon.
    let built = ok(run(d.cpp("nix-build").args([pkgs(), "-A", "hello"])));
    let hello = std::fs::read_to_string(d.real(&built).join("bin/hello")).unwrap();
    assert!(hello.contains("Hello, world!"), "{hello}");
    assert_eq!(
        std::fs::read_link(d.dir.path().join("result")).unwrap(),
        Path::new(&built)
    );
    let roots = ok(run(d.cpp("nix-store").args(["--gc", "--print-roots"])));
    assert!(roots.contains(&built), "{roots}");

    // nix-env -i: the user environment through builtin:buildenv.
    let profile = d.dir.path().join("profile");
    ok(run(d.cpp("nix-env").arg("-p").arg(&profile).args([
        "-f",
        pkgs(),
        "-iA",
        "hello",
    ])));
    let env = std::fs::read_link(d.dir.path().join("profile-1-link")).unwrap();
    let env = env.to_str().unwrap().to_owned();
    assert_eq!(
        std::fs::read_link(d.real(&env).join("bin")).unwrap(),
        Path::new(&built).join("bin")
    );
    let ours = ok(run(d.cpp("nix-store").args(["-q", "--hash", &env])));
    // The same environment built by CppNix in a store of its own.
    let cpp_store = tempfile::tempdir().unwrap();
    let cpp_profile = cpp_store.path().join("profile");
    let out = Command::new("nix-env")
        .arg("--store")
        .arg(cpp_store.path().join("store"))
        .arg("-p")
        .arg(&cpp_profile)
        .args(["-f", pkgs(), "-iA", "hello"])
        .env_remove("NIX_REMOTE")
        .env("NIX_STATE_DIR", d.dir.path().join("state"))
        .env("NIX_CONF_DIR", d.dir.path().join("conf"))
        .env("HOME", d.dir.path().join("home"))
        .output()
        .unwrap();
    if out.status.success() {
        let theirs = ok(run(Command::new("nix-store")
            .arg("--store")
            .arg(cpp_store.path().join("store"))
            .args(["-q", "--hash", &env])));
        assert_eq!(ours, theirs, "buildenv's output is CppNix's, bit for bit");
    } else {
        eprintln!(
            "skipped the comparison: CppNix cannot build in a store of its own here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // GC: what the result link and the profile hold stays; the unrooted file goes.
    let gc = run(d.cpp("nix-store").arg("--gc"));
    assert!(
        gc.status.success(),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );
    assert!(d.real(&built).exists());
    assert!(d.real(&env).exists());
    assert!(!d.real(&added).exists(), "unrooted path collected");
    let gone = run(d.cpp("nix-store").args(["-q", "--hash", &added]));
    assert!(!gone.status.success());
}

#[test]
fn an_untrusted_cppnix_client_meets_cppnix_refusals() {
    if !usable() {
        return;
    }
    // Nobody is trusted, so this test's root client is only allowed.
    let d = Daemon::start(&[("trusted-users", "")]);
    let file = d.dir.path().join("x.txt");
    std::fs::write(&file, "x\n").unwrap();
    let added = ok(run(d.cpp("nix-store").arg("--add").arg(&file)));
    let drv = ok(run(d.cpp("nix-instantiate").args([pkgs(), "-A", "hello"])));
    let out = ok(run(d.cpp("nix-store").args(["--realise", &drv])));
    let check = run(d.cpp("nix-store").args(["--realise", "--check", &drv]));
    assert!(!check.status.success());
    assert!(
        String::from_utf8_lossy(&check.stderr)
            .contains("repairing or checking is not allowed because you are not privileged"),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // An input-addressed closure exported, collected, then offered back unsigned.
    let closure = ok(run(d.cpp("nix-store").args(["-qR", &out])));
    let closure: Vec<&str> = closure.lines().collect();
    let export = run(d.cpp("nix-store").arg("--export").args(&closure));
    assert!(export.status.success());
    ok(run(d.cpp("nix-store").arg("--gc")));
    assert!(!d.real(&out).exists());
    let mut import = d.cpp("nix-store");
    import
        .arg("--import")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = import.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(&export.stdout);
    }
    let imported = child.wait_with_output().unwrap();
    assert!(!imported.status.success());
    assert!(
        String::from_utf8_lossy(&imported.stderr).contains("lacks a signature by a trusted key"),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(!d.real(&out).exists(), "nothing of it registered");
    // A refused request leaves the daemon serving.
    let again = ok(run(d.cpp("nix-store").arg("--add").arg(&file)));
    assert_eq!(again, added);
    ok(run(d.cpp("nix-store").args(["-q", "--hash", &again])));
}
