//! nixkit's CLI as a daemon client (`--store unix://…`, `NIX_REMOTE`): against CppNix
//! 2.8's own `nix-daemon` and against `nixkit daemon`, each on a private store. The example
//! package set is instantiated and built through the daemon with outputs identical to a
//! local build; queries, adding, dumping, `--verify-path`, result roots and garbage
//! collection go through the daemon. Skipped without CppNix, busybox or user namespaces.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::Write;
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
    let ok = runs("nix-daemon", &["--version"])
        && Path::new("/bin/busybox").exists()
        && runs("/bin/busybox", &["unshare", "-Ur", "true"]);
    if !ok {
        eprintln!("skipped: needs CppNix (nix-daemon), busybox-static and user namespaces");
    }
    ok
}

fn nixkit() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nixkit"));
    c.env_remove("NIX_REMOTE");
    c
}

fn pkgs() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../pkgs")
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(socket: &Path) {
    let start = Instant::now();
    while !socket.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the daemon did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// CppNix's daemon on a store rooted at `dir/root` (logical `/nix/store`).
fn cppnix_daemon(dir: &Path) -> (Killed, PathBuf) {
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    // The package set's fetches read its files: the sandbox must see them.
    std::fs::write(
        conf.join("nix.conf"),
        format!(
            "substituters =\nbuild-users-group =\nextra-sandbox-paths = {}/files\n",
            std::fs::canonicalize(pkgs()).unwrap().display()
        ),
    )
    .unwrap();
    let socket = dir.join("socket");
    let child = Command::new("nix-daemon")
        .arg("--store")
        .arg(dir.join("root"))
        .env_remove("NIX_REMOTE")
        .env("NIX_CONF_DIR", &conf)
        .env("NIX_DAEMON_SOCKET_PATH", &socket)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = Killed(child);
    wait_for(&socket);
    (child, socket)
}

/// `nixkit daemon` on a store rooted at `dir/root`.
fn nixkit_daemon(dir: &Path) -> (Killed, PathBuf) {
    let socket = dir.join("socket");
    let child = nixkit()
        .arg("daemon")
        .arg("--store")
        .arg(dir.join("root"))
        .arg("--socket")
        .arg(&socket)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let child = Killed(child);
    wait_for(&socket);
    (child, socket)
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_owned).collect()
}

/// A store given as `--store SPEC`.
struct Store(String);

impl Store {
    fn run(&self, args: &[&str]) -> Output {
        nixkit()
            .arg("store")
            .args(["--store", &self.0])
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        ok(self.run(args))
    }
}

/// What a local build of the package set gives: its `.drv`, output paths and NAR hashes.
struct Reference {
    hello_drv: String,
    outputs: Vec<String>,
    hashes: BTreeMap<String, String>,
    references: BTreeMap<String, String>,
    /// `--export` of the first output's closure.
    export: Vec<u8>,
}

fn local_reference(dir: &Path) -> Reference {
    let local = Store(dir.join("local").display().to_string());
    let hello_drv = ok(nixkit()
        .args(["instantiate", "--store", &local.0, pkgs(), "-A", "hello"])
        .output()
        .unwrap());
    let outputs = lines(&ok(nixkit()
        .current_dir(dir)
        .args([
            "build",
            "--no-out-link",
            "--store",
            &local.0,
            pkgs(),
            "-A",
            "all",
        ])
        .output()
        .unwrap()));
    let hashes = outputs
        .iter()
        .map(|p| (p.clone(), local.ok(&["-q", "--hash", p])))
        .collect();
    let references = outputs
        .iter()
        .map(|p| (p.clone(), local.ok(&["-q", "--references", p])))
        .collect();
    let closure = lines(&local.ok(&["-q", "--requisites", &outputs[0]]));
    let mut args = vec!["--export"];
    args.extend(closure.iter().map(String::as_str));
    let export = local.run(&args);
    assert!(export.status.success());
    Reference {
        hello_drv,
        outputs,
        hashes,
        references,
        export: export.stdout,
    }
}

/// Everything nixkit's CLI does through the daemon at `socket`, whose store's files are
/// under `root`.
fn exercise(socket: &Path, root: &Path, work: &Path, reference: &Reference) {
    let spec = format!("unix://{}?root={}", socket.display(), root.display());
    let daemon = Store(spec.clone());
    let real = |p: &str| root.join(p.trim_start_matches('/'));

    // Instantiation writes the same .drv through the daemon.
    let drv = ok(nixkit()
        .args(["instantiate", "--store", &spec, pkgs(), "-A", "hello"])
        .output()
        .unwrap());
    assert_eq!(drv, reference.hello_drv);
    assert!(real(&drv).exists(), "the daemon's store has the .drv");

    // nix-build through NIX_REMOTE: the same outputs, bit for bit, and result roots.
    let built = lines(&ok(nixkit()
        .current_dir(work)
        .env("NIX_REMOTE", &spec)
        .args(["build", pkgs(), "-A", "all"])
        .output()
        .unwrap()));
    assert_eq!(built, reference.outputs);
    for p in &built {
        assert_eq!(daemon.ok(&["-q", "--hash", p]), reference.hashes[p], "{p}");
        assert_eq!(
            daemon.ok(&["-q", "--references", p]),
            reference.references[p],
            "{p}"
        );
        assert!(real(p).exists(), "{p} is in the daemon's store");
    }
    assert_eq!(
        std::fs::read_link(work.join("result")).unwrap(),
        Path::new(&built[0])
    );
    let roots = daemon.ok(&["--gc", "--print-roots"]);
    for (i, p) in built.iter().enumerate() {
        let link = if i == 0 {
            work.join("result")
        } else {
            work.join(format!("result-{}", i + 1))
        };
        assert!(
            roots.contains(&format!("{} -> {p}", link.display())),
            "{roots}"
        );
    }

    // Queries.
    let hello = &built[0];
    assert_eq!(daemon.ok(&["-q", "--deriver", hello]), reference.hello_drv);
    let requisites = lines(&daemon.ok(&["-q", "--requisites", hello]));
    assert_eq!(requisites.last(), Some(hello), "the path comes last");
    let dep = lines(&reference.references[hello])
        .into_iter()
        .find(|r| r != hello)
        .expect("hello refers to another path");
    assert!(requisites.contains(&dep));
    assert!(lines(&daemon.ok(&["-q", "--referrers", &dep])).contains(hello));
    assert_eq!(
        daemon.ok(&["-q", "--outputs", &reference.hello_drv]),
        *hello
    );
    let size: u64 = daemon.ok(&["-q", "--size", hello]).parse().unwrap();
    assert!(size > 0);
    let verified = daemon.run(&["--verify-path", hello, &dep]);
    assert!(verified.status.success());
    assert_eq!(daemon.ok(&["--realise", &reference.hello_drv]), *hello);
    let mut args = vec!["--export"];
    args.extend(requisites.iter().map(String::as_str));
    let export = daemon.run(&args);
    assert!(export.status.success());
    assert!(
        export.stdout == reference.export,
        "the daemon's export is the local store's, byte for byte"
    );

    // An export of the local store imported through the daemon.
    let local = Store(work.join("local").display().to_string());
    let exported_file = work.join("exported.txt");
    std::fs::write(&exported_file, "exported\n").unwrap();
    let exported = local.ok(&["--add", exported_file.to_str().unwrap()]);
    let export = local.run(&["--export", &exported]);
    assert!(export.status.success());
    let mut import = nixkit()
        .args(["store", "--store", &spec, "--import"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    import
        .stdin
        .take()
        .unwrap()
        .write_all(&export.stdout)
        .unwrap();
    assert_eq!(ok(import.wait_with_output().unwrap()), exported);
    assert_eq!(
        daemon.ok(&["-q", "--hash", &exported]),
        local.ok(&["-q", "--hash", &exported])
    );

    // Adding files, as the local store would.
    let file = work.join("note.txt");
    std::fs::write(&file, "a note\n").unwrap();
    let f = file.to_str().unwrap();
    let added = daemon.ok(&["--add", f]);
    assert_eq!(added, local.ok(&["--add", f]));
    assert_eq!(std::fs::read_to_string(real(&added)).unwrap(), "a note\n");
    let fixed = daemon.ok(&["--add-fixed", "sha1", f]);
    assert_eq!(fixed, local.ok(&["--add-fixed", "sha1", f]));
    let dumped = daemon.run(&["--dump", &added]);
    assert!(dumped.status.success());
    assert_eq!(dumped.stdout, local.run(&["--dump", f]).stdout);

    // A path modified behind the store's back fails --verify-path.
    let victim = real(&fixed);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&victim, "tampered\n").unwrap();
    let verified = daemon.run(&["--verify-path", &fixed]);
    assert_eq!(verified.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&verified.stderr).contains("was modified"),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );

    // Garbage collection: the rooted outputs stay, the unrooted files go.
    let deleted = daemon.run(&["--delete", &fixed]);
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    assert!(!daemon.run(&["-q", "--hash", &fixed]).status.success());
    let dead = lines(&daemon.ok(&["--gc", "--print-dead"]));
    assert!(dead.contains(&added), "{dead:?}");
    assert!(!dead.contains(hello));
    let gc = daemon.ok(&["--gc"]);
    assert!(gc.contains("store paths deleted"), "{gc}");
    assert!(!daemon.run(&["-q", "--hash", &added]).status.success());
    for p in &built {
        assert_eq!(daemon.ok(&["-q", "--hash", p]), reference.hashes[p], "{p}");
    }
}

#[test]
fn nixkit_cli_against_cppnix_daemon() {
    if !usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reference = local_reference(dir.path());
    let (_daemon, socket) = cppnix_daemon(dir.path());
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    exercise(&socket, &dir.path().join("root"), &work, &reference);
}

#[test]
fn nixkit_cli_against_nixkit_daemon() {
    if !usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reference = local_reference(dir.path());
    let (_daemon, socket) = nixkit_daemon(dir.path());
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    exercise(&socket, &dir.path().join("root"), &work, &reference);
}

#[test]
fn an_unreachable_daemon_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("unix://{}/nowhere", dir.path().display());
    let out = nixkit()
        .args(["store", "--store", &spec, "-q", "--hash", "/nix/store/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to socket at"), "{err}");
    let out = nixkit()
        .env("NIX_REMOTE", &spec)
        .args([
            "instantiate",
            "-E",
            "derivation { name = \"x\"; system = \"s\"; builder = \"/b\"; }",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to socket at"), "{err}");
}
