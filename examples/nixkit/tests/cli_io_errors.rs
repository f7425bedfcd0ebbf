//! Issue 20 items 7, 8 and 11: the binary never aborts or panics on an input or output error.
//! Every command that prints runs with standard output on a closed pipe (quiet, exit 0 as
//! CppNix's line output) and on `/dev/full` (a clear error, exit 1); arguments that are not
//! UTF-8 give errors, not aborts; `nix-build` still makes its later result links when
//! printing fails; the secret key of `--generate-binary-cache-key` is created 0600; store
//! specifications never create a store relative to the current directory; unknown flags
//! and errors are worded as CppNix words them.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::{nar, HashAlgo, HashSink, PathInfo, StoreDir};

fn command(dir: &Path, args: &[&OsStr]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nixkit"));
    cmd.current_dir(dir)
        .env("NIXKIT_STORE", dir.join("store"))
        .env("HOME", dir)
        .args(args)
        .stdin(Stdio::null());
    cmd
}

fn os(args: &[&str]) -> Vec<&'static OsStr> {
    args.iter()
        .map(|a| OsStr::new(Box::leak(a.to_string().into_boxed_str())))
        .collect()
}

/// Asserts that the run ended with an exit status, not a signal or abort, and no panic.
fn no_crash(what: &str, out: &Output) -> i32 {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(!stderr.contains("error: error:"), "{what}: {stderr}");
    let code = out.status.code();
    assert!(
        code.is_some(),
        "{what}: killed by a signal: {:?}",
        out.status
    );
    assert_ne!(code, Some(134), "{what}: aborted");
    assert_ne!(code, Some(101), "{what}: panicked");
    code.unwrap_or(-1)
}

/// Runs `args` with standard output on a pipe whose reading end is closed.
fn to_closed_pipe(dir: &Path, args: &[&OsStr]) -> Output {
    // The read end is closed before the command starts, so even its first write fails
    // (closing it after spawning raced with a fast command's whole output).
    let (reader, writer) = nix::unistd::pipe().unwrap();
    drop(reader);
    command(dir, args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn to_dev_full(dir: &Path, args: &[&OsStr]) -> Output {
    command(dir, args)
        .stdout(fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&OsStr]) -> String {
    let out = command(dir, args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Registers a file at the output path of `drv` so that building it is a no-op.
fn pretend_built(store: &LocalStore, output: &str) {
    let dir = store.store_dir();
    let path = dir.parse_path(output).unwrap();
    let text = format!("built {output}");
    fs::write(store.real_path(&path), &text).unwrap();
    let mut sink = HashSink::new(HashAlgo::Sha256);
    nar::write_flat_file_nar(text.as_bytes(), false, &mut sink).unwrap();
    let (hash, size) = sink.finish();
    store
        .register_valid_paths(&[PathInfo::new(path, hash, size)])
        .unwrap();
}

#[test]
fn printing_commands_survive_closed_pipes_and_full_disks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(dir.join("file"), "some content\n").unwrap();
    let added = ok(dir, &os(&["store", "--add", "file"]));
    let added = added.trim();
    let store = LocalStore::open(StoreConfig::new(dir.join("store"), StoreDir::default())).unwrap();
    store
        .add_perm_root(
            &store.store_dir().parse_path(added).unwrap(),
            &dir.join("root-link"),
        )
        .unwrap();

    // Two derivations whose outputs are valid already: `build` only prints and links.
    let expr = "let d = n: derivation { name = n; system = \"x86_64-linux\"; builder = \"/bin/sh\"; }; in { a = d \"a\"; b = d \"b\"; }";
    let mut outputs = Vec::new();
    for attr in ["a", "b"] {
        let drv = ok(dir, &os(&["instantiate", "-E", expr, "-A", attr]));
        let out = ok(dir, &os(&["store", "-q", "--outputs", drv.trim()]));
        pretend_built(&store, out.trim());
        outputs.push(out.trim().to_owned());
    }
    drop(store);

    let cases: &[&[&str]] = &[
        &["--help"],
        &["store", "--help"],
        &["hash", "--help"],
        &["build", "--help"],
        &["store", "--add", "file"],
        &["store", "--gc", "--print-roots"],
        &["store", "--gc", "--print-live"],
        &["store", "--gc", "--max-freed", "0"],
        &["store", "-q", "-R", added],
        &["store", "--realise", added],
        &["store", "--dump", "file"],
        &["store", "--export", added],
        &["hash", "file"],
        &["instantiate", "--parse", "-E", "1 + 1"],
        &["instantiate", "--eval", "-E", "\"x\""],
        &["build", "-E", expr, "-A", "a", "-A", "b", "--no-out-link"],
    ];
    for args in cases {
        let args = os(args);
        let what = format!("{args:?}");
        // Binary streams fail as CppNix's do ("writing ...: Broken pipe", exit 1); lines
        // stop quietly with success.
        let binary = args.iter().any(|a| *a == "--dump" || *a == "--export");
        let piped = to_closed_pipe(dir, &args);
        let code = no_crash(&format!("{what} to a closed pipe"), &piped);
        assert_eq!(code, i32::from(binary), "{what}: {:?}", piped);
        let full = to_dev_full(dir, &args);
        let code = no_crash(&format!("{what} to /dev/full"), &full);
        if !args
            .iter()
            .any(|a| *a == "--print-roots" || *a == "--print-live")
            || code != 0
        {
            assert_eq!(code, 1, "{what} to /dev/full");
            let stderr = String::from_utf8_lossy(&full.stderr);
            assert!(
                stderr.contains("No space left on device"),
                "{what}: {stderr}"
            );
        }
    }

    // Diagnostics to a full or closed standard error: the exit status is still the error's.
    for args in [
        &["store", "--frob"][..],
        &["store", "-q", "-R", "/nix/store/missing"],
    ] {
        let args = os(args);
        let out = command(dir, &args)
            .stderr(fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(no_crash("stderr to /dev/full", &out), 1);
        let mut child = command(dir, &args).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stderr.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(no_crash("stderr to a closed pipe", &out), 1);
    }

    // `build` printing to a full disk still makes every result link.
    let full = to_dev_full(dir, &os(&["build", "-E", expr, "-A", "a", "-A", "b"]));
    assert_eq!(no_crash("build to /dev/full", &full), 1);
    for (link, out) in ["result", "result-2"].iter().zip(&outputs) {
        assert_eq!(
            fs::read_link(dir.join(link)).unwrap(),
            Path::new(out),
            "{link}"
        );
    }
}

#[test]
fn arguments_that_are_not_utf8_give_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let bad = OsStr::from_bytes(b"bad-\xff\xfe");
    let bad_path = OsStr::from_bytes(b"/nix/store/\xff");
    let s = |x: &'static str| OsStr::new(x);
    let cases: Vec<Vec<&OsStr>> = vec![
        vec![bad],
        vec![s("store"), s("--add"), bad],
        vec![s("store"), s("--add-fixed"), bad, bad],
        vec![s("store"), s("-q"), s("-R"), bad_path],
        vec![s("store"), s("--store"), bad, s("-q"), s("-R"), bad_path],
        vec![s("store"), s("--realise"), bad],
        vec![s("store"), s("--dump"), bad],
        vec![s("store"), s("--generate-binary-cache-key"), bad, bad, bad],
        vec![s("hash"), bad],
        vec![s("hash"), s("--type"), bad, s("x")],
        vec![s("hash"), s("--to-base32"), bad],
        vec![s("instantiate"), s("--parse"), bad],
        vec![s("instantiate"), s("--eval"), bad],
        vec![s("instantiate"), s("--eval"), s("-E"), bad],
        vec![s("build"), bad],
        vec![s("build"), s("-A"), bad, s("-E"), s("{}")],
    ];
    // A file whose name is not UTF-8 is an ordinary operand.
    fs::write(dir.join(bad), "odd name\n").unwrap();
    for args in [
        vec![s("store"), s("--dump"), bad],
        vec![s("hash"), s("--type"), s("sha256"), bad],
        vec![s("store"), s("--add-fixed"), s("sha256"), bad],
    ] {
        let out = command(dir, &args).output().unwrap();
        let code = no_crash(&format!("{args:?}"), &out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if args[1] == "--add-fixed" {
            // As in CppNix, the file name becomes the store path name, which must be ASCII.
            assert_eq!(code, 1, "{stderr}");
            assert!(stderr.contains("illegal character"), "{stderr}");
        } else {
            assert_eq!(code, 0, "{args:?}: {stderr}");
            assert!(!out.stdout.is_empty());
        }
    }
    fs::remove_file(dir.join(bad)).unwrap();

    // Accepted as bytes, as CppNix does: a Nix string may hold any bytes.
    let out = command(
        dir,
        &[
            s("instantiate"),
            s("--eval"),
            s("--argstr"),
            s("a"),
            bad,
            s("-E"),
            s("{ a }: a"),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(no_crash("--argstr", &out), 0);
    assert_eq!(out.stdout, b"\"bad-\xff\xfe\"\n");
    for args in &cases {
        let out = command(dir, args).output().unwrap();
        let code = no_crash(&format!("{args:?}"), &out);
        assert_ne!(code, 0, "{args:?} should fail");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error:"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn secret_key_is_created_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A file already there (world-readable) is replaced, never reused with its mode.
    fs::write(dir.join("sk"), "old").unwrap();
    fs::set_permissions(dir.join("sk"), fs::Permissions::from_mode(0o644)).unwrap();
    ok(
        dir,
        &os(&["store", "--generate-binary-cache-key", "k-1", "sk", "pk"]),
    );
    let mode = |f: &str| fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("sk"), 0o600);
    assert_eq!(mode("pk") & 0o077, 0o044 & mode("pk"));
    assert!(fs::read_to_string(dir.join("sk"))
        .unwrap()
        .starts_with("k-1:"));
    // Created with the mode, not changed afterwards: even a permissive umask gives 0600.
    let out = Command::new("sh")
        .current_dir(dir)
        .arg("-c")
        .arg(format!(
            "umask 000; exec '{}' store --generate-binary-cache-key k-2 sk2 pk2",
            env!("CARGO_BIN_EXE_nixkit")
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(mode("sk2"), 0o600);
}

#[test]
fn store_specs_never_create_stores_in_the_current_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cases: &[(&str, &str)] = &[
        // A daemon that is not there (NIX_DAEMON_SOCKET_PATH below) is a clear error.
        (
            "daemon",
            "cannot connect to socket at '/nonexistent/socket'",
        ),
        (
            "unix:///nonexistent/daemon-socket/socket",
            "cannot connect to socket at '/nonexistent/daemon-socket/socket'",
        ),
        ("", "don't know how to open Nix store ''"),
        ("foo", "don't know how to open Nix store 'foo'"),
        ("local?root=rel", "not an absolute path: 'rel'"),
        ("https://cache.example", "don't know how to open Nix store"),
    ];
    for (spec, message) in cases {
        for cmd in [
            &["store", "--store", spec, "-q", "-R", "/nix/store/x"][..],
            &["store", "--option", "store", spec, "--gc"][..],
            &["instantiate", "--store", spec, "-E", "1"][..],
            &["build", "--store", spec, "-E", "1"][..],
        ] {
            let out = command(dir, &os(cmd))
                .env("NIX_DAEMON_SOCKET_PATH", "/nonexistent/socket")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(no_crash(&format!("{cmd:?}"), &out), 1, "{cmd:?}: {stderr}");
            assert!(stderr.contains(message), "{cmd:?}: {stderr}");
        }
    }
    let left: Vec<_> = fs::read_dir(dir).unwrap().collect();
    assert!(
        left.is_empty(),
        "created in the current directory: {left:?}"
    );
}

#[test]
fn unknown_flags_are_unrecognised() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for cmd in [
        &["store", "--frob"][..],
        &["hash", "--frob"][..],
        &["build", "--frob"][..],
        &["instantiate", "--frob"][..],
        &["instantiate", "--eval", "--frob", "-E", "1"][..],
    ] {
        let out = command(dir, &os(cmd)).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(no_crash(&format!("{cmd:?}"), &out), 1);
        assert!(
            stderr.starts_with("error: unrecognised flag '--frob'"),
            "{cmd:?}: {stderr}"
        );
    }
}
