//! Differential test against CppNix: derivations, store paths and string
//! contexts evaluated by nixkit and by `nix-instantiate --readonly-mode
//! --eval --strict` must print the same. Runs only when `nix-instantiate` is
//! on `PATH` (prints "skipped: ..." otherwise). Fixture files are created in a
//! temporary directory so that path hashing (flat, NAR, filters, symlinks,
//! executables) is compared too.

use std::path::Path;
use std::process::Command;

use nixkit_eval::cli::{parse_args, run, CliEnv};

/// Expressions whose printed values must agree; evaluated in the fixture directory.
const CASES: &[(&str, &str)] = &[
    (
        "multi-output",
        r#"let d = derivation { name = "x"; system = "x86_64-linux"; builder = "/bin/sh"; outputs = [ "out" "dev" ]; }; in [ d.drvPath d.outPath d.dev.outPath d.out.outPath d.outputName d.dev.outputName ]"#,
    ),
    (
        "first-output-wins",
        r#"let d = derivation { name = "y"; system = "x"; builder = "/b"; outputs = [ "bin" "out" ]; }; in [ d.outPath d.outputName d.drvPath ]"#,
    ),
    (
        "deps-by-context",
        r#"let a = derivation { name = "a"; system = "x"; builder = "/b"; outputs = [ "out" "lib" ]; }; b = derivation { name = "b-1.0"; system = "x"; builder = "/b"; deps = [ a ]; lib = "${a.lib}/lib"; }; in [ b.drvPath b.outPath ]"#,
    ),
    (
        "fixed-flat-nix32",
        r#"(derivation { name = "f"; system = "x"; builder = "/b"; outputHash = "0k4lwj58f2w5yh92ilrwy9917pycipbrdrr13vbb3yd02j09vfxm"; outputHashAlgo = "sha256"; }).drvPath"#,
    ),
    (
        "fixed-recursive",
        r#"let d = derivation { name = "src"; system = "x"; builder = "/b"; outputHashMode = "recursive"; outputHashAlgo = "sha256"; outputHash = "1yhm3gwvg5a41yylymgblsclk95fs6jy72w0wv925mmidlhcq4sw"; }; in [ d.outPath d.drvPath ]"#,
    ),
    (
        "fixed-sri",
        r#"let d = derivation { name = "sri"; system = "x"; builder = "/b"; outputHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; }; in [ d.outPath d.drvPath ]"#,
    ),
    (
        "fixed-sha1-base16",
        r#"let d = derivation { name = "s1"; system = "x"; builder = "/b"; outputHashAlgo = "sha1"; outputHash = "da39a3ee5e6b4b0d3255bfef95601890afd80709"; }; in [ d.outPath d.drvPath ]"#,
    ),
    (
        "fixed-sha512-recursive",
        r#"(derivation { name = "s5"; system = "x"; builder = "/b"; outputHashMode = "recursive"; outputHash = "sha512:00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"; }).outPath"#,
    ),
    (
        "fixed-as-input",
        r#"let f = derivation { name = "f"; system = "x"; builder = "/b"; outputHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; }; d = derivation { name = "d"; system = "x"; builder = "/b"; src = f; }; in [ d.drvPath d.outPath ]"#,
    ),
    (
        "structured",
        r#"let d = derivation { name = "s"; system = "x"; builder = "/b"; __structuredAttrs = true; n = 1; f = 1.5; b = true; nul = null; l = [ 1 "a" [ ] { } ]; a = { x.y = "z"; }; p = ./file; s = "q\"\n\t"; outputs = [ "out" "doc" ]; }; in [ d.drvPath d.doc.outPath ]"#,
    ),
    (
        "ignore-nulls",
        r#"let d = derivation { name = "n"; system = "x"; builder = "/b"; __ignoreNulls = true; a = null; b = "b"; }; e = derivation { name = "n"; system = "x"; builder = "/b"; a = null; b = "b"; }; in [ d.drvPath e.drvPath ]"#,
    ),
    (
        "env-coercions",
        r#"(derivation { name = "e"; system = "x"; builder = "/b"; t = true; f = false; i = 42; fl = 0.5; l = [ "a" 1 [ "b" [ ] ] null ]; p = ./file; passAsFile = [ "t" ]; args = [ "-c" ./file 3 ]; }).drvPath"#,
    ),
    (
        "path-interpolation",
        r#"[ "${./file}" "${./dir}" (toString ./file) ]"#,
    ),
    (
        "to-file",
        r#"let t = builtins.toFile "t.sh" "echo ${./file}"; d = derivation { name = "tf"; system = "x"; builder = "/b"; script = t; }; in [ t d.drvPath (builtins.getContext t) ]"#,
    ),
    (
        "builtins-path",
        r#"[ (builtins.path { path = ./dir; name = "renamed"; }) (builtins.path { path = ./dir; filter = p: t: t != "symlink"; }) (builtins.path { path = ./file; recursive = false; }) (builtins.filterSource (p: t: baseNameOf p != "exe") ./dir) ]"#,
    ),
    (
        "to-json-paths",
        r#"let j = builtins.toJSON { p = ./file; l = [ ./dir ]; }; in [ j (builtins.attrNames (builtins.getContext j)) ]"#,
    ),
    (
        "placeholders",
        r#"[ (builtins.placeholder "out") (builtins.placeholder "dev") ]"#,
    ),
    (
        "context-introspection",
        r#"let d = derivation { name = "c"; system = "x"; builder = "/b"; outputs = [ "out" "foo" ]; }; in [ (builtins.getContext d.drvPath) (builtins.getContext "${d.foo}${./file}") (builtins.getContext (builtins.unsafeDiscardOutputDependency d.drvPath)) (builtins.hasContext d.outPath) ]"#,
    ),
    (
        "discard-output-dependency",
        r#"let a = derivation { name = "a"; system = "x"; builder = "/b"; }; d = derivation { name = "u"; system = "x"; builder = "/b"; drv = builtins.unsafeDiscardOutputDependency a.drvPath; }; in d.drvPath"#,
    ),
    (
        "append-context",
        r#"let a = derivation { name = "a"; system = "x"; builder = "/b"; outputs = [ "out" "dev" ]; }; s = builtins.appendContext "x" { ${builtins.unsafeDiscardStringContext a.drvPath} = { outputs = [ "dev" ]; }; }; d = derivation { name = "ac"; system = "x"; builder = "/b"; inherit s; }; in [ d.drvPath (builtins.getContext s) ]"#,
    ),
    (
        "derivation-strict",
        r#"builtins.derivationStrict { name = "ds"; system = "x"; builder = "/b"; outputs = [ "a" "b" ]; }"#,
    ),
    (
        "names",
        r#"map (n: (derivation { name = n; system = "x"; builder = "/b"; }).drvPath) [ "a.b" "c+d" "e_f?g=h" "-x" ]"#,
    ),
    (
        "attr-pos",
        r#"let s = import ./pos.nix; in [ (builtins.unsafeGetAttrPos "a" s) (builtins.unsafeGetAttrPos "b" s) (builtins.unsafeGetAttrPos "z" s) ]"#,
    ),
];

fn have_cppnix() -> bool {
    Command::new("nix-instantiate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn fixtures(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(dir.join("file"), "hello\n")?;
    std::fs::write(dir.join("pos.nix"), "{\n  a = 1;\n    b.c = 2;\n}\n")?;
    std::fs::create_dir(dir.join("dir"))?;
    std::fs::write(dir.join("dir/a"), "a\n")?;
    std::fs::create_dir(dir.join("dir/sub"))?;
    std::fs::write(dir.join("dir/sub/b"), "")?;
    std::fs::write(dir.join("dir/exe"), "#!/bin/sh\n")?;
    std::fs::set_permissions(dir.join("dir/exe"), std::fs::Permissions::from_mode(0o755))?;
    std::os::unix::fs::symlink("a", dir.join("dir/link"))?;
    Ok(())
}

fn nixkit(dir: &str, expr: &str) -> (i32, String, String) {
    let opts = parse_args(&["--eval", "--strict", "-E", expr]).expect("valid flags");
    let (mut out, mut err) = (String::new(), String::new());
    let code = run(&opts, &CliEnv::new(dir), &mut out, &mut err);
    (code, out, err)
}

fn cppnix(dir: &Path, expr: &str) -> (i32, String, String) {
    let o = Command::new("nix-instantiate")
        .args(["--readonly-mode", "--eval", "--strict", "-E", expr])
        .current_dir(dir)
        .env_remove("NIX_PATH")
        .output()
        .expect("nix-instantiate runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn derivations_match_cppnix() {
    if !have_cppnix() {
        println!("skipped: nix-instantiate is not on PATH");
        return;
    }
    let tmp = tempfile::tempdir().expect("temporary directory");
    fixtures(tmp.path()).expect("fixtures");
    let dir = tmp
        .path()
        .canonicalize()
        .expect("canonical temporary directory");
    let dir_s = dir.to_string_lossy().into_owned();
    // One CppNix run for everything (it is slow to start); per-case runs only on mismatch.
    let all: String = CASES
        .iter()
        .map(|(n, e)| format!("\"{n}\" = ({e});\n"))
        .collect();
    let all = format!("{{\n{all}}}");
    let (ours, theirs) = (nixkit(&dir_s, &all), cppnix(&dir, &all));
    assert_eq!(theirs.0, 0, "CppNix failed: {}", theirs.2);
    if ours.1 == theirs.1 {
        assert_eq!(ours.0, 0);
        return;
    }
    let mut failures = Vec::new();
    for (name, expr) in CASES {
        let (a, b) = (nixkit(&dir_s, expr), cppnix(&dir, expr));
        if a.1 != b.1 {
            failures.push(format!(
                "{name}:\n  nixkit: {}{}\n  cppnix: {}",
                a.1, a.2, b.1
            ));
        }
    }
    assert!(
        !failures.is_empty(),
        "whole-set outputs differ but no single case does"
    );
    panic!(
        "{} case(s) differ from CppNix:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
