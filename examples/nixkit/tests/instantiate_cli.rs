//! `nixkit instantiate FILE` writes the `.drv` closure into the local store
//! (as CppNix's `nix-instantiate` does), registers `--add-root` roots
//! indirectly, and leaves the store alone with `--readonly-mode`. When CppNix
//! is on `PATH`, its `nix-store` must read the same answers from our store.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn nixkit(dir: &Path, args: &[&str]) -> Output {
    ok(Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .current_dir(dir)
        .env_remove("NIX_REMOTE")
        .args(args))
}

const EXPR: &str = r#"
let
  dep = derivation { name = "dep"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ ./build.sh ]; };
in {
  top = derivation { name = "top"; system = "x86_64-linux"; builder = "/bin/sh"; inherit dep; };
  multi = derivation { name = "multi"; system = "x86_64-linux"; builder = "/bin/sh"; outputs = [ "dev" "out" ]; };
}
"#;

#[test]
fn instantiate_writes_drv_closure_and_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(dir.join("default.nix"), EXPR).unwrap();
    fs::write(dir.join("build.sh"), "echo hi > $out\n").unwrap();
    let store = dir.join("store");
    let store_s = store.to_str().unwrap();

    // Read-only mode computes the same paths without creating the store.
    let ro = text(&nixkit(
        dir,
        &[
            "instantiate",
            "--store",
            store_s,
            "--readonly-mode",
            "default.nix",
            "-A",
            "top",
        ],
    ));
    assert!(!store.exists(), "--readonly-mode must not open the store");

    let out = nixkit(
        dir,
        &[
            "instantiate",
            "--store",
            store_s,
            "default.nix",
            "-A",
            "top",
        ],
    );
    let top = text(&out);
    assert_eq!(top, ro);
    assert!(String::from_utf8_lossy(&out.stderr).contains("you did not specify '--add-root'"));
    let top = top.trim();
    assert!(
        top.starts_with("/nix/store/") && top.ends_with("-top.drv"),
        "{top}"
    );
    let physical = store.join(top.trim_start_matches('/'));
    assert!(fs::read_to_string(&physical)
        .unwrap()
        .starts_with("Derive("));

    let query = |args: &[&str]| -> String {
        let mut a = vec!["store", "--store", store_s, "--query"];
        a.extend_from_slice(args);
        text(&nixkit(dir, &a))
    };
    let refs = query(&["--references", top]);
    let lines: Vec<&str> = refs.lines().collect();
    assert_eq!(lines.len(), 1, "{refs}");
    assert!(lines[0].ends_with("-dep.drv"), "{refs}");
    let dep_refs = query(&["--references", lines[0]]);
    assert!(dep_refs.trim().ends_with("-build.sh"), "{dep_refs}");
    let requisites = query(&["--requisites", top]);
    assert_eq!(requisites.lines().count(), 3, "{requisites}");

    // `--add-root`: the root links to the .drv, is printed instead of it, and is
    // registered indirectly under gcroots/auto; the second root gets `-2`.
    let root = dir.join("roots/drv");
    let printed = text(&nixkit(
        dir,
        &[
            "instantiate",
            "--store",
            store_s,
            "default.nix",
            "-A",
            "top",
            "-A",
            "multi",
            "--add-root",
            "roots/drv",
            "--indirect",
        ],
    ));
    let root2 = format!("{}-2", root.display());
    assert_eq!(printed, format!("{}\n{root2}!dev\n", root.display()));
    assert_eq!(fs::read_link(&root).unwrap().to_str().unwrap(), top);
    assert!(fs::read_link(&root2)
        .unwrap()
        .to_str()
        .unwrap()
        .ends_with("-multi.drv"));
    let auto: Vec<String> = fs::read_dir(store.join("nix/var/nix/gcroots/auto"))
        .unwrap()
        .map(|e| {
            fs::read_link(e.unwrap().path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(
        auto.contains(&root.to_string_lossy().into_owned()),
        "{auto:?}"
    );
    assert!(auto.contains(&root2), "{auto:?}");
    let dead = text(&nixkit(
        dir,
        &["store", "--store", store_s, "--gc", "--print-dead"],
    ));
    assert!(
        !dead.contains("-top.drv") && !dead.contains("-dep.drv"),
        "rooted closure is alive: {dead}"
    );

    if Command::new("nix-store").arg("--version").output().is_err() {
        return;
    }
    let cpp = |args: &[&str]| -> String {
        let spec = format!("local?root={store_s}");
        let mut c = Command::new("nix-store");
        c.args(["--store", &spec, "--query"]).args(args);
        text(&ok(&mut c))
    };
    assert_eq!(cpp(&["--references", top]), refs);
    assert_eq!(cpp(&["--requisites", top]), requisites);
}

/// `--arg`s a function does not name are not passed to it (unless it has
/// `...`), as in CppNix's `autoCallFunction`.
#[test]
fn auto_call_passes_only_named_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let run = |expr: &str| {
        text(&ok(Command::new(env!("CARGO_BIN_EXE_nixkit"))
            .args([
                "instantiate",
                "--eval",
                "--arg",
                "unused",
                "1",
                "--argstr",
                "a",
                "x",
                "-E",
                expr,
            ])
            .current_dir(dir.path())))
    };
    assert_eq!(run("{ a ? 1 }: a"), "\"x\"\n");
    assert_eq!(run("{ b ? 2 }: b"), "2\n");
    assert_eq!(
        run("{ ... }@args: builtins.attrNames args"),
        "[ \"a\" \"unused\" ]\n"
    );
    assert_eq!(run("x: 3"), "<LAMBDA>\n");
}

/// `trace:` lines reach standard error while the evaluation still runs, as CppNix writes
/// them (not after it), so an evaluation that runs long, or for ever, shows where it is.
#[test]
fn trace_lines_are_written_as_the_evaluation_makes_them() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    // After the trace, the evaluation reads standard input, which stays open (and empty)
    // until the test is done: it cannot end before.
    let expr = r#"builtins.trace "started" (builtins.readFile /dev/stdin)"#;
    let mut child = Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .current_dir(dir.path())
        .args(["instantiate", "--eval", "--strict", "-E", expr])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stderr).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(std::time::Duration::from_secs(60));
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(line.as_deref(), Ok("trace: started\n"));
    assert!(running, "the trace came only after the evaluation ended");
}
