//! `nixkit build` on the busybox package set (examples/pkgs): a build from scratch into a
//! temporary store, a no-op second build, `--check`, and GC after removing `result` links.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use nixkit_store::local::{GcOptions, LocalStore, StoreConfig};
use nixkit_store::StoreDir;

fn usable() -> bool {
    let ok = Path::new("/bin/busybox").exists()
        && Command::new("/bin/busybox")
            .args(["unshare", "-Ur", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipping: needs busybox-static and user namespaces");
    }
    ok
}

fn nixkit(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let pkgs = concat!(env!("CARGO_MANIFEST_DIR"), "/../pkgs");
    let out = Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .current_dir(dir)
        .arg("build")
        .arg(pkgs)
        .args(["--store", &dir.join("store").to_string_lossy()])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn package_set_builds_checks_and_collects() {
    if !usable() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (ok, stdout, stderr) = nixkit(dir, &["-A", "all", "-j", "2"]);
    assert!(ok, "{stderr}");
    let outs: Vec<&str> = stdout.lines().collect();
    assert_eq!(outs.len(), 4, "{stdout}");
    assert!(
        stderr.contains("these 6 derivations will be built"),
        "{stderr}"
    );
    let real = |p: &str| dir.join("store").join(p.trim_start_matches('/'));
    let combined = real(outs[3]);
    assert_eq!(
        std::fs::read_to_string(combined.join("hello-output")).unwrap(),
        "Hello, world!\n"
    );
    assert_eq!(
        std::fs::read_to_string(combined.join("greet-output")).unwrap(),
        "Greetings from a tarball!\n"
    );
    assert_eq!(
        std::fs::read_to_string(combined.join("deps")).unwrap(),
        format!("{}\n{}\n", outs[0], outs[1])
    );
    assert_eq!(
        std::fs::read_link(dir.join("result-4")).unwrap(),
        Path::new(outs[3])
    );

    // Second build: nothing to do.
    let (ok, stdout2, stderr) = nixkit(dir, &["-A", "all"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout2, stdout);
    assert!(!stderr.contains("building"), "{stderr}");

    // --check rebuilds and finds the same outputs.
    let (ok, _, stderr) = nixkit(dir, &["-A", "all", "--check", "--no-out-link"]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("building '") && stderr.contains("reproducible"),
        "{stderr}"
    );

    // GC after removing every result but `combined`'s: exactly the unreachable paths go.
    for r in ["result", "result-2", "result-3"] {
        std::fs::remove_file(dir.join(r)).unwrap();
    }
    let store = LocalStore::open(StoreConfig::new(dir.join("store"), StoreDir::default())).unwrap();
    let combined_path = store.store_dir().parse_path(outs[3]).unwrap();
    let live = store
        .query_closure(&BTreeSet::from([combined_path]))
        .unwrap();
    let before = store.valid_paths().unwrap();
    let result = store.collect_garbage(&GcOptions::default()).unwrap();
    let after = store.valid_paths().unwrap();
    let deleted: BTreeSet<_> = result.deleted.iter().cloned().collect();
    assert_eq!(
        after.union(&deleted).cloned().collect::<BTreeSet<_>>(),
        before
    );
    assert!(live.is_subset(&after));
    // With keep-derivations, the derivers of live paths stay; nothing else does.
    for p in &after {
        assert!(
            live.contains(p) || p.name().ends_with(".drv"),
            "kept unreachable {p:?}"
        );
    }
    assert!(deleted.iter().any(|p| p.name() == "multi-1.0"));
    assert!(deleted.iter().any(|p| p.name() == "greeter-1.0.tar.gz"));
    assert!(!deleted.iter().any(|p| p.name() == "hello-1.0"));
}
