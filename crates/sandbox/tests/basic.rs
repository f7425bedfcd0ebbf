//! Building busybox derivations: outputs, registration, references, multiple outputs,
//! environment, a second build is a no-op, `--check`.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
use common::*;
use nixkit_sandbox::RealiseOptions;

#[test]
fn builds_and_registers() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let a = t.drv("a", "echo hello > $out", &[], &["out"], &[]);
    let r = t.build(&a).unwrap();
    let out = t.out(&a, "out");
    assert_eq!(r.outputs[&a]["out"], out);
    assert!(t.is_valid(&out));
    assert_eq!(std::fs::read_to_string(t.real(&out)).unwrap(), "hello\n");
    // Second build: nothing to do.
    let r2 = t.build(&a).unwrap();
    assert!(r2.built.is_empty());
    // --check: same output.
    let opts = RealiseOptions {
        check: true,
        ..Default::default()
    };
    t.build_with(std::slice::from_ref(&a), &opts).unwrap();
}

#[test]
fn references_and_multiple_outputs() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let lib = t.drv(
        "lib",
        "mkdir -p $out $dev; echo lib > $out/lib; echo \"$out\" > $dev/ref",
        &[],
        &["out", "dev"],
        &[],
    );
    let lib_out = t.out(&lib, "out");
    let lib_dev = t.out(&lib, "dev");
    let app = t.drv(
        "app",
        "mkdir $out; cat $lib/lib > $out/copy; echo $lib > $out/uses",
        &[("lib", &t.print(&lib_out))],
        &["out"],
        &[(&lib, &["out"])],
    );
    t.build(&app).unwrap();
    let store = t.store.lock().unwrap();
    let app_out = t.drvs[&app]
        .output_path(store.store_dir(), "out")
        .unwrap()
        .unwrap();
    let refs = store.query_references(&app_out).unwrap();
    assert_eq!(refs.into_iter().collect::<Vec<_>>(), vec![lib_out.clone()]);
    assert_eq!(
        store
            .query_references(&lib_dev)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![lib_out]
    );
    let info = store.query_path_info(&app_out).unwrap().unwrap();
    assert_eq!(info.deriver, Some(app.clone()));
    drop(store);
    // Normalised metadata.
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(t.real(&app_out).join("copy")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o444);
    assert_eq!(m.mtime(), 1);
}

#[test]
fn environment_is_cppnix_like() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let script = "env | sort | grep -v '^_=' | grep -v '^SHLVL=' > $out; pwd >> $out; id >> $out; hostname >> $out; cat $fooPath >> $out";
    let a = t.drv(
        "env",
        script,
        &[("foo", "bar"), ("passAsFile", "foo")],
        &["out"],
        &[],
    );
    t.build(&a).unwrap();
    let text = std::fs::read_to_string(t.real(&t.out(&a, "out"))).unwrap();
    for line in [
        "HOME=/homeless-shelter",
        "NIX_BUILD_TOP=/build",
        "TMPDIR=/build",
        "TEMPDIR=/build",
        "TMP=/build",
        "TEMP=/build",
        "NIX_STORE=/nix/store",
        "NIX_BUILD_CORES=1",
        "NIX_LOG_FD=2",
        "TERM=xterm-256color",
        "fooPath=/build/.attr-1bp7cri8hplaz6hbz0v4f0nl44rl84q1sg25kgwqzipzd1mv89ic",
        "/build",
        "uid=1000(nixbld) gid=100(nixbld) groups=100(nixbld)",
        "localhost",
        "bar",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
}
