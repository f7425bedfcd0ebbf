//! The published advisories of CppNix's and Lix's sandboxes, each attack performed against
//! nixkit: descriptors of outputs passed between fixed-output builds (CVE-2024-27297), build
//! directories others can enter (CVE-2024-38531), pre-created and symlinked build
//! directories and cleanup or registration that follows links (the 2025 advisories,
//! CVE-2025-46415/46416/52991/52992/52993, and CVE-2026-39860), and `builtin:fetchurl`
//! reading files as root.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use nixkit_sandbox::{BuildError, RealiseError, RealiseOptions};
use nixkit_store::{Hash, HashAlgo};

fn failures(r: Result<nixkit_sandbox::Realised, RealiseError>) -> Vec<BuildError> {
    match r {
        Err(RealiseError::BuildsFailed(f)) => f.into_iter().map(|(_, e)| e).collect(),
        other => panic!("expected failures, got {other:?}"),
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// CVE-2024-27297: fixed-output build A keeps `$out` open and passes the descriptor over an
/// abstract Unix socket (fixed-output builds share the host network) to fixed-output build
/// B, which writes through it after A's output was verified and registered.
#[test]
fn cve_2024_27297_output_descriptor_passed_to_another_build() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let Some(tool) = t.attack_tool() else { return };
    let sock = format!("nixkit-test-{}", std::process::id());
    let a = t.fod(
        "sender",
        &format!("echo good > $out; {tool} send {sock} $out"),
        Hash::digest(HashAlgo::Sha256, b"good\n"),
    );
    let b = t.fod(
        "receiver",
        &format!("{tool} recv {sock} 3 4; echo b > $out"),
        Hash::digest(HashAlgo::Sha256, b"b\n"),
    );
    let mut opts = RealiseOptions {
        jobs: 2,
        ..RealiseOptions::default()
    };
    // The Landlock scope would stop the descriptor from passing at all (see the next
    // test): lift it, to attack the layer behind it.
    opts.settings.share_abstract_sockets = true;
    t.build_with(&[b.clone(), a.clone()], &opts).unwrap();
    let out = t.real(&t.out(&a, "out"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "good\n");
    // And the registered metadata still describes the content.
    let info = t
        .store
        .lock()
        .unwrap()
        .query_path_info(&t.out(&a, "out"))
        .unwrap()
        .unwrap();
    let nar = nixkit_store::hash_path::hash_path(
        &out,
        HashAlgo::Sha256,
        nixkit_store::FileIngestionMethod::Recursive,
    )
    .unwrap()
    .0;
    assert_eq!(info.nar_hash, nar);
}

/// The kernel's Landlock ABI version (0 without Landlock).
fn landlock_abi() -> i64 {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) only
    // returns the ABI version; it reads and writes no memory.
    #[allow(unsafe_code)]
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    v.max(0)
}

/// The channel of CVE-2024-27297 itself: fixed-output builds share the host's network
/// namespace, where abstract Unix sockets live. Each build is in a Landlock domain of its
/// own, so it can connect neither to another build's socket nor to a host process's.
#[test]
fn fixed_output_builds_cannot_reach_abstract_sockets_outside() {
    if unsupported() {
        return;
    }
    if landlock_abi() < 6 {
        eprintln!("skipped: the kernel has no Landlock ABI 6 (abstract socket scoping)");
        return;
    }
    let mut t = TestStore::new();
    let Some(tool) = t.attack_tool() else { return };
    // A host process listening (say, a desktop session's bus).
    let host_name = format!("nixkit-host-{}", std::process::id());
    let addr =
        <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
            host_name.as_bytes(),
        )
        .unwrap();
    let _host = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    let sock = format!("nixkit-scope-{}", std::process::id());
    let a = t.fod(
        "to-build",
        &format!("echo good > $out; {tool} send {sock} $out"),
        Hash::digest(HashAlgo::Sha256, b"good\n"),
    );
    let h = t.fod(
        "to-host",
        &format!("echo good > $out; {tool} send {host_name} $out"),
        Hash::digest(HashAlgo::Sha256, b"good\n"),
    );
    let b = t.fod(
        "listener",
        &format!("timeout 5 {tool} recv {sock} 0 1 || true; echo b > $out"),
        Hash::digest(HashAlgo::Sha256, b"b\n"),
    );
    let opts = RealiseOptions {
        jobs: 3,
        keep_going: true,
        ..RealiseOptions::default()
    };
    let failed = failures(t.build_with(&[b.clone(), a.clone(), h.clone()], &opts));
    assert_eq!(failed.len(), 2, "{failed:?}");
    for e in &failed {
        assert!(
            e.to_string()
                .contains("send: connect: Operation not permitted"),
            "{e}"
        );
    }
    assert!(t.is_valid(&t.out(&b, "out")));
}

/// CVE-2024-38531: the build directory was world-accessible, so another host user could
/// enter it during the build (and run a setuid binary the builder left there).
#[test]
fn cve_2024_38531_build_directory_is_private() {
    if unsupported() {
        return;
    }
    if !is_root() {
        eprintln!("skipped: needs root to try the build directory as another user");
        return;
    }
    let mut t = TestStore::new();
    let builds = t.dir.path().join("builds");
    let a = t.drv(
        "private",
        "echo secret > /build/f; touch /build/ready; i=0; while [ ! -e /build/done ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; touch $out",
        &[],
        &["out"],
        &[],
    );
    let mut opts = RealiseOptions::default();
    opts.settings.builds_dir = Some(builds.clone());
    std::thread::scope(|s| {
        let build = s.spawn(|| t.build_with(std::slice::from_ref(&a), &opts));
        let start = Instant::now();
        let top = loop {
            let found = std::fs::read_dir(&builds).ok().and_then(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .find(|p| p.join("build/ready").exists())
            });
            if let Some(top) = found {
                break top;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no build started"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&top), 0o700);
        assert_eq!(mode(&top.join("root")), 0o750);
        // Another user can neither list nor traverse it.
        for args in [
            vec!["ls".to_owned(), top.display().to_string()],
            vec!["cat".to_owned(), top.join("build/f").display().to_string()],
            vec!["ls".to_owned(), top.join("root").display().to_string()],
        ] {
            let out = std::process::Command::new(BUSYBOX)
                .args(&args)
                .uid(65534)
                .gid(65534)
                .output()
                .unwrap();
            assert!(!out.status.success(), "{args:?} as nobody worked");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::fs::write(top.join("build/done"), "").unwrap();
        build.join().unwrap().unwrap();
    });
}

use std::os::unix::process::CommandExt;

/// The 2025 advisories (predictable build directory in a shared directory): an attacker
/// who can write to the builds directory pre-creates the names nixkit would use — as
/// symbolic links to a victim directory and as directories of its own. Builds still get a
/// fresh private directory, the attacker's entries and the victim are left alone, and a
/// builds directory others may write to (without the sticky bit) is refused.
#[test]
fn predictable_build_directories_cannot_be_pre_created() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let builds = t.dir.path().join("shared-builds");
    std::fs::create_dir(&builds).unwrap();
    std::fs::set_permissions(&builds, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = t.dir.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("file"), "precious").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o750)).unwrap();
    let pid = std::process::id();
    for n in 0..64 {
        std::os::unix::fs::symlink(&victim, builds.join(format!("nixkit-{pid}-{n}"))).unwrap();
        std::fs::create_dir(builds.join(format!("nixkit-{pid}-x{n}"))).unwrap();
    }
    let a = t.drv(
        "fresh",
        "echo hi > /build/f; touch $out",
        &[],
        &["out"],
        &[],
    );
    let mut opts = RealiseOptions::default();
    opts.settings.builds_dir = Some(builds.clone());
    opts.settings.keep_failed = false;
    t.build_with(std::slice::from_ref(&a), &opts).unwrap();
    assert_eq!(std::fs::read_dir(&builds).unwrap().count(), 128);
    assert_eq!(
        std::fs::read_to_string(victim.join("file")).unwrap(),
        "precious"
    );
    assert_eq!(
        std::fs::metadata(&victim).unwrap().permissions().mode() & 0o7777,
        0o750
    );

    let open = t.dir.path().join("open-builds");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    opts.settings.builds_dir = Some(open.clone());
    let b = t.drv("refused", "touch $out", &[], &["out"], &[]);
    let e = failures(t.build_with(std::slice::from_ref(&b), &opts));
    assert!(
        e[0].to_string().contains("writable only by its owner"),
        "{}",
        e[0]
    );
}

/// A host directory outside the sandbox, with a file, both modes remembered.
struct Victim {
    dir: PathBuf,
}

impl Victim {
    fn new(base: &Path) -> Self {
        let dir = base.join("victim");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("file"), "precious").unwrap();
        std::fs::set_permissions(dir.join("file"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
        Self { dir }
    }

    fn assert_untouched(&self) {
        let m = std::fs::symlink_metadata(&self.dir).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o711);
        let f = std::fs::symlink_metadata(self.dir.join("file")).unwrap();
        assert_eq!(f.permissions().mode() & 0o7777, 0o600);
        assert_ne!(f.mtime(), 1, "mtime was canonicalised");
        assert_eq!(f.uid(), nix::unistd::geteuid().as_raw());
        assert_eq!(
            std::fs::read_to_string(self.dir.join("file")).unwrap(),
            "precious"
        );
    }
}

/// The 2025 advisories (cleanup and canonicalisation following links): a builder leaves
/// links to host paths in its build directory, in directories without permissions, and in
/// its outputs. Removing the build directory, and normalising and registering the outputs,
/// never follows them: the host files keep their content, mode, owner and mtime.
#[test]
fn cleanup_and_registration_do_not_follow_links() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let victim = Victim::new(t.dir.path());
    let v = victim.dir.display().to_string();
    let script = format!(
        "ln -s {v} /build/link; ln -s {v}/file /build/flink; mkdir -p /build/locked/deep; \
         ln -s {v} /build/locked/deep/link; chmod 0 /build/locked/deep; chmod 0 /build/locked; \
         mkdir $out; ln -s {v} $out/link; ln -s {v}/file $out/flink; mkdir $out/sub; ln -s {v} $out/sub/l"
    );
    let ok = t.drv("links", &script, &[], &["out"], &[]);
    t.build(&ok).unwrap();
    victim.assert_untouched();
    let out = t.real(&t.out(&ok, "out"));
    assert!(std::fs::symlink_metadata(out.join("link"))
        .unwrap()
        .file_type()
        .is_symlink());
    // The same left behind by a failing build.
    let failing = t.drv(
        "links-fail",
        &format!("{script}; exit 1"),
        &[],
        &["out"],
        &[],
    );
    failures(t.build(&failing));
    victim.assert_untouched();
}

/// CVE-2026-39860 (a bug in CppNix's fix for CVE-2024-27297): the copy of a fixed output
/// was made at a path inside the build root, where the builder could put a symbolic link
/// that registration then followed, overwriting any file. Here the output of a fixed-output
/// build is itself a link to a host file, and its parent directory holds links named like
/// temporary files: the copy is made in the store, never through them.
#[test]
fn fixed_output_registration_does_not_follow_links() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let victim = Victim::new(t.dir.path());
    let v = victim.dir.display().to_string();
    let a = t.fod(
        "fod-link",
        &format!("for n in 0 1 2 3 tmp .tmp; do ln -s {v}/file $out.$n || true; done; ln -s {v}/file $out"),
        Hash::digest(HashAlgo::Sha256, b"precious"),
    );
    let e = failures(t.build(&a));
    assert!(!t.is_valid(&t.out(&a, "out")), "{}", e[0]);
    victim.assert_untouched();
}

/// Writes `content` to a new file of mode `mode` in a directory every user may traverse.
fn host_file(t: &TestStore, name: &str, content: &[u8], mode: u32) -> PathBuf {
    let dir = t.dir.path().join("public");
    if !dir.exists() {
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // The test's temporary directory itself must be traversable too.
        std::fs::set_permissions(t.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

/// `builtin:fetchurl` of a `file://` URL runs as the build user: a root-only file cannot
/// be fetched (with the wrong hash its hash is not printed, with the right one it is not
/// stored), while a world-readable one next to it can.
#[test]
fn fetchurl_cannot_read_files_the_build_user_cannot() {
    if unsupported() {
        return;
    }
    if !is_root() {
        eprintln!("skipped: needs root (an unprivileged nixkit fetches as its own user)");
        return;
    }
    let mut t = TestStore::new();
    let secret = b"root-only secret\n";
    let shadow = host_file(&t, "shadow", secret, 0o600);
    let public = host_file(&t, "public", b"hello\n", 0o644);
    let builds = t.dir.path().join("builds");
    let mut opts = RealiseOptions::default();
    opts.settings.builds_dir = Some(builds.clone());
    opts.settings.keep_failed = true;
    let real = Hash::digest(HashAlgo::Sha256, secret);
    let wrong = Hash::digest(HashAlgo::Sha256, b"guess");
    for hash in [real, wrong] {
        let d = t.fetchurl("shadow", &format!("file://{}", shadow.display()), hash);
        let e = failures(t.build_with(std::slice::from_ref(&d), &opts));
        let msg = e[0].to_string();
        assert!(msg.contains("Permission denied"), "{msg}");
        assert!(!msg.contains(&real.to_sri()), "{msg}");
        assert!(!msg.contains(&real.to_string()), "{msg}");
        assert!(!t.is_valid(&t.out(&d, "out")));
    }
    // Nothing of the secret was kept in the build directories (`--keep-failed`).
    let mut stack = vec![builds];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if m.is_file() {
            assert_ne!(std::fs::read(&p).unwrap(), secret, "{}", p.display());
        }
    }
    // Percent-encoded names are decoded.
    let d = t.fetchurl(
        "public",
        &format!("file://{}", public.display()).replace("public/public", "public/p%75blic"),
        Hash::digest(HashAlgo::Sha256, b"hello\n"),
    );
    t.build_with(std::slice::from_ref(&d), &opts).unwrap();
    assert_eq!(
        std::fs::read_to_string(t.real(&t.out(&d, "out"))).unwrap(),
        "hello\n"
    );
}

/// `builtin:fetchurl` of a device (`/dev/zero`, which never ends) or a FIFO (which blocks
/// forever) fails at once instead of reading without bound or hanging.
#[test]
fn fetchurl_of_devices_and_fifos_fails_at_once() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let fifo = host_file(&t, "placeholder", b"", 0o644)
        .parent()
        .unwrap()
        .join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    let mut opts = RealiseOptions::default();
    opts.settings.timeout = Some(Duration::from_secs(120));
    for url in [
        "file:///dev/zero".to_owned(),
        format!("file://{}", fifo.display()),
    ] {
        let d = t.fetchurl("dev", &url, Hash::digest(HashAlgo::Sha256, b""));
        let start = Instant::now();
        let e = failures(t.build_with(std::slice::from_ref(&d), &opts));
        assert!(start.elapsed() < Duration::from_secs(10), "{url}");
        assert!(e[0].to_string().contains("not a regular file"), "{}", e[0]);
    }
}
