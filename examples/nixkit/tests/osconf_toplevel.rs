//! osconf's `system.build.toplevel` of the sample configuration
//! (crates/osconf/tests/config/configuration.nix) built with `nixkit build` into a
//! temporary store: the /etc tree, the package environment, the service definitions,
//! the users database and the `activate` program, and a closure holding everything
//! they refer to.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn usable() -> bool {
    let ok = Path::new("/bin/busybox").exists()
        && Command::new("/bin/busybox")
            .args(["unshare", "-Ur", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: needs busybox-static and user namespaces");
    }
    ok
}

fn osconf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/osconf")
}

fn nixkit(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .current_dir(dir)
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
fn sample_system_builds_as_one_derivation() {
    if !usable() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let store = dir.join("store");
    let store_arg = store.to_string_lossy().into_owned();
    let eval_config = osconf_dir().join("nix/eval-config.nix");
    let configuration = osconf_dir().join("tests/config/configuration.nix");
    let (ok, stdout, stderr) = nixkit(
        dir,
        &[
            "build",
            &eval_config.to_string_lossy(),
            "--arg",
            "configuration",
            &configuration.to_string_lossy(),
            "-A",
            "config.system.build.toplevel",
            "--store",
            &store_arg,
            "-j",
            "2",
        ],
    );
    assert!(ok, "{stderr}");
    let out = stdout.trim();
    assert!(out.ends_with("-osconf-system-webhost"), "{stdout}");
    let real = |p: &str| store.join(p.trim_start_matches('/'));
    let system = real(out);

    // Everything the system refers to resolves inside the store.
    let resolve = |link: &Path| real(&std::fs::read_link(link).unwrap().to_string_lossy());
    let etc = resolve(&system.join("etc"));
    let hostname = resolve(&etc.join("hostname"));
    assert_eq!(std::fs::read_to_string(hostname).unwrap(), "webhost\n");
    let motd = resolve(&etc.join("motd"));
    assert_eq!(
        std::fs::read_to_string(motd).unwrap(),
        "Welcome to webhost.\nBe nice."
    );
    let copies = std::fs::read_to_string(resolve(&system.join("etc-copies"))).unwrap();
    assert!(
        copies.contains("0640 root web app/settings.conf\n"),
        "{copies}"
    );
    assert!(
        copies.contains("0600 root root crontabs/root\n"),
        "{copies}"
    );
    let sw = resolve(&system.join("sw"));
    let hello = resolve(&sw.join("bin/hello"));
    assert!(
        hello.ends_with("bin/hello") && hello.is_file(),
        "{}",
        hello.display()
    );
    assert!(sw.join("bin/greet").symlink_metadata().is_ok());

    let services = std::fs::read_to_string(system.join("services.json")).unwrap();
    assert!(
        services.contains("/bin/httpd -f -p 8080 -h /nix/store/"),
        "{services}"
    );
    assert!(
        services.contains("\"after\":[\"httpd\",\"cron\"]"),
        "{services}"
    );
    let passwd = std::fs::read_to_string(system.join("users/passwd")).unwrap();
    assert!(
        passwd.contains("alice:x:1001:100:Alice:/home/alice:"),
        "{passwd}"
    );
    let ids = std::fs::read_to_string(system.join("users/ids.json")).unwrap();
    assert!(ids.contains("\"bob\":1003"), "{ids}");
    let activate = std::fs::read_to_string(system.join("activate")).unwrap();
    assert!(
        activate.starts_with("#!/nix/store/") && activate.contains(&format!("system={out}\n")),
        "{activate}"
    );

    // The closure holds the etc files, the packages, the shell and the document root
    // the httpd service serves, all in this store.
    let (ok, closure, stderr) = nixkit(
        dir,
        &[
            "store",
            "--store",
            &store_arg,
            "--query",
            "--requisites",
            out,
        ],
    );
    assert!(ok, "{stderr}");
    for wanted in [
        "-etc-hostname",
        "-hello-1.0",
        "-greeter-1.0",
        "-busybox-tools",
        "-index.html",
        "-system-path",
    ] {
        assert!(
            closure.lines().any(|p| p.ends_with(wanted)),
            "{wanted} not in closure:\n{closure}"
        );
    }
    for path in closure.lines() {
        assert!(
            real(path).exists(),
            "{path} of the closure is not in the store"
        );
    }
}
