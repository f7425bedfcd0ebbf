//! osconf's `system.build.toplevel` of the sample configuration
//! (crates/osconf/tests/config/configuration.nix) built with `nixkit build` into a
//! temporary store: the /etc tree, the package environment, the service definitions,
//! the users database and the `activate` program, and a closure holding everything
//! they refer to; then `activate` run twice on an empty root directory.
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

/// `nixkit build` of `configuration`'s `system.build.toplevel` into the store at
/// `store`; returns the output path line.
fn build_system(dir: &Path, store: &str, configuration: &Path) -> String {
    let eval_config = osconf_dir().join("nix/eval-config.nix");
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
            store,
            "-j",
            "2",
        ],
    );
    assert!(ok, "{stderr}");
    stdout
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
    let configuration = osconf_dir().join("tests/config/configuration.nix");
    let stdout = build_system(dir, &store_arg, &configuration);
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
        copies.contains("0640 0 998 app/settings.conf\n"),
        "{copies}"
    );
    assert!(copies.contains("0600 0 0 crontabs/root\n"), "{copies}");
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

    let root = dir.join("root");
    if !activate_into_a_root(&store, out, &root) {
        return;
    }

    // The next generation: motd and the copied settings file are gone, a file appears;
    // a file osconf never installed stays.
    std::fs::write(root.join("etc/local.conf"), "mine").unwrap();
    let next = dir.join("next.nix");
    std::fs::write(
        &next,
        format!(
            "{{ ... }}: {{ imports = [ {} ]; environment.etc.motd.enable = false; \
             environment.etc.\"app/settings.conf\".enable = false; \
             environment.etc.\"new.conf\".text = \"new\"; }}",
            configuration.display()
        ),
    )
    .unwrap();
    let out2 = build_system(dir, &store_arg, &next);
    let out2 = out2.trim();
    assert_ne!(out2, out);
    run_activate(&store, out2, &root);
    let etc = root.join("etc");
    assert!(
        etc.join("motd").symlink_metadata().is_err(),
        "motd left behind"
    );
    assert!(
        etc.join("app/settings.conf").symlink_metadata().is_err(),
        "copy left behind"
    );
    assert_eq!(
        std::fs::read_link(etc.join("new.conf")).unwrap(),
        Path::new("/etc/static/new.conf")
    );
    assert_eq!(
        std::fs::read_to_string(etc.join("local.conf")).unwrap(),
        "mine"
    );
    assert_eq!(
        std::fs::read_link(etc.join("hostname")).unwrap(),
        Path::new("/etc/static/hostname")
    );
}

/// Runs `system`'s `activate` on `root` with the temporary store mounted over /nix/store
/// in a private user and mount namespace.
fn run_activate(store: &Path, system: &str, root: &Path) {
    let script = format!(
        "mount --bind '{}' /nix/store && {system}/activate '{}'",
        store.join("nix/store").display(),
        root.display()
    );
    let out = Command::new("/bin/busybox")
        .args(["unshare", "-Urm", "/bin/busybox", "sh", "-e", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "activation of {system}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the system's `activate` on an empty root directory, twice (it must converge),
/// and checks the result; false when activation cannot run here.
fn activate_into_a_root(store: &Path, system: &str, root: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    if !Path::new("/nix/store").is_dir() {
        eprintln!("skipped: activation needs a /nix/store directory to mount over");
        return false;
    }
    std::fs::create_dir_all(root).unwrap();
    run_activate(store, system, root);
    run_activate(store, system, root);
    let etc = root.join("etc");
    let link = |p: &str| std::fs::read_link(etc.join(p)).unwrap();
    assert_eq!(link("static"), Path::new(&format!("{system}/etc")));
    assert_eq!(link("hostname"), Path::new("/etc/static/hostname"));
    assert_eq!(link("motd"), Path::new("/etc/static/motd"));
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    // Files with a mode are copies; the users database is written with its modes.
    assert_eq!(mode(&etc.join("app/settings.conf")), 0o640);
    assert_eq!(
        std::fs::read_to_string(etc.join("app/settings.conf")).unwrap(),
        "debug = false"
    );
    assert_eq!(mode(&etc.join("crontabs/root")), 0o600);
    assert_eq!(mode(&etc.join("shadow")), 0o600);
    assert_eq!(mode(&etc.join("passwd")), 0o644);
    let passwd = std::fs::read_to_string(etc.join("passwd")).unwrap();
    assert!(
        passwd.contains("alice:x:1001:100:Alice:/home/alice:"),
        "{passwd}"
    );
    for home in ["home/alice", "home/bob", "var/lib/deploy"] {
        assert_eq!(mode(&root.join(home)), 0o700, "{home}");
    }
    assert_eq!(
        std::fs::read_link(root.join("run/current-system")).unwrap(),
        Path::new(system)
    );
    let ids = std::fs::read_to_string(root.join("var/lib/osconf/ids.json")).unwrap();
    assert!(
        ids.contains("\"carol\":1000"),
        "deleted users' ids are kept: {ids}"
    );
    true
}
