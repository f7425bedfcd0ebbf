//! Output registration: the outputs of one build are registered together or not at all,
//! and `--check` of a non-deterministic builder reports CppNix's error (keeping the new
//! output as `<out>.check` with `--keep-failed`).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
use std::os::unix::fs::MetadataExt;

use common::*;
use nixkit_sandbox::{BuildError, RealiseError, RealiseOptions};

fn single_failure(r: Result<nixkit_sandbox::Realised, RealiseError>) -> BuildError {
    match r {
        Err(RealiseError::BuildsFailed(mut f)) if f.len() == 1 => f.remove(0).1,
        other => panic!("expected one failure, got {other:?}"),
    }
}

#[test]
fn outputs_register_all_or_nothing() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    // `dev` (registered first in name order) is fine; `out` holds a FIFO, which cannot be
    // serialised, so the build fails after `dev` was already processed.
    let script =
        "mkdir -p $out $dev; echo ok > $dev/file; echo \"$dev\" > $out/ref; mkfifo $out/fifo";
    let a = t.drv("fifo", script, &[], &["out", "dev"], &[]);
    let mut opts = RealiseOptions::default();
    opts.settings.keep_failed = true;
    let e = single_failure(t.build_with(std::slice::from_ref(&a), &opts));
    assert!(e.to_string().contains("unsupported file type"), "{e}");
    for o in ["out", "dev"] {
        let p = t.out(&a, o);
        assert!(!t.is_valid(&p), "{o} must not be registered");
        assert!(
            std::fs::symlink_metadata(t.real(&p)).is_err(),
            "{o} must not be in the store"
        );
    }
    let store = t.store.lock().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(store.real_store_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // --keep-failed: the outputs are back in the kept build directory.
    let builds = store.state_dir().join("builds");
    drop(store);
    let kept: Vec<_> = std::fs::read_dir(&builds).unwrap().flatten().collect();
    assert_eq!(kept.len(), 1);
    let dev_in_sandbox = kept[0]
        .path()
        .join("root")
        .join(t.print(&t.out(&a, "dev")).trim_start_matches('/'));
    assert_eq!(
        std::fs::read_to_string(dev_in_sandbox.join("file")).unwrap(),
        "ok\n"
    );
}

#[test]
fn check_reports_non_determinism() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let a = t.drv(
        "nondet",
        "cat /proc/sys/kernel/random/uuid > $out",
        &[],
        &["out"],
        &[],
    );
    t.build(&a).unwrap();
    let out = t.out(&a, "out");
    let real = t.real(&out);
    let first = std::fs::read_to_string(&real).unwrap();
    let check = RealiseOptions {
        check: true,
        ..Default::default()
    };

    // Without --keep-failed: CppNix's message, nothing kept.
    let e = single_failure(t.build_with(std::slice::from_ref(&a), &check));
    let expected = format!(
        "derivation '{}' may not be deterministic: output '{}' differs",
        t.print(&a),
        real.display()
    );
    assert_eq!(e.to_string(), expected);
    let check_path = std::path::PathBuf::from(format!("{}.check", real.display()));
    assert!(!check_path.exists());

    // With --keep-failed: the new output is kept as `<out>.check`, unregistered.
    let mut keep = check.clone();
    keep.settings.keep_failed = true;
    let e = single_failure(t.build_with(std::slice::from_ref(&a), &keep));
    assert_eq!(
        e.to_string(),
        format!("{expected} from '{}'", check_path.display())
    );
    let second = std::fs::read_to_string(&check_path).unwrap();
    assert_ne!(first, second);
    assert_eq!(
        std::fs::metadata(&check_path).unwrap().mode() & 0o7777,
        0o444
    );
    // The registered output is untouched and still verifies.
    assert_eq!(std::fs::read_to_string(&real).unwrap(), first);
    let store = t.store.lock().unwrap();
    assert!(store.verify(true).unwrap().is_ok());
    assert!(store
        .valid_paths()
        .unwrap()
        .iter()
        .all(|p| !p.name().ends_with(".check")));
}
