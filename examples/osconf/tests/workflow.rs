//! osconf end to end on a scratch root, as a user plays it: generate-config, install,
//! a user and a package added to configuration.nix, `rebuild switch`, `--rollback`,
//! list-generations, gc keeping every generation's closure, delete-generations, and the
//! other actions (`boot`, `test`, `build`, `dry-build`, `dry-activate`, switch-generation);
//! a configuration's warnings printed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{config_with, Scratch};

#[test]
fn generate_install_switch_rollback_gc() {
    if !common::usable() {
        return;
    }
    let s = Scratch::new();

    // generate-config: the hardware configuration and a template that evaluates.
    let (ok, _, stderr) = s.run(&["generate-config"]);
    assert!(ok, "{stderr}");
    let hardware = s.root.join("etc/osconf/hardware-configuration.nix");
    let hw_text = std::fs::read_to_string(&hardware).unwrap();
    assert!(hw_text.contains("fileSystems.\"/\" ="), "{hw_text}");
    let template = std::fs::read_to_string(s.config_path()).unwrap();
    assert!(template.contains("imports = [ ./hardware-configuration.nix ];"));
    assert!(template.contains("environment.systemPackages = [ pkgs.hello ];"));
    assert!(template.contains("# services.httpd = {"));
    let evaluated = nixkit_osconf::eval_config_json(&s.config_path()).unwrap();
    assert!(evaluated.contains("\"fileSystems\":{\"/\":"), "{evaluated}");
    // configuration.nix is kept without --force, the hardware configuration rewritten.
    std::fs::write(
        s.config_path(),
        template.replace("pkgs.hello", "pkgs.hello "),
    )
    .unwrap();
    std::fs::write(&hardware, "garbage").unwrap();
    let (_, _, stderr) = s.run(&["generate-config"]);
    assert!(stderr.contains("not overwriting existing"), "{stderr}");
    assert!(std::fs::read_to_string(s.config_path())
        .unwrap()
        .contains("pkgs.hello "));
    assert_eq!(std::fs::read_to_string(&hardware).unwrap(), hw_text);
    s.ok(&["generate-config", "--force"]);
    assert_eq!(std::fs::read_to_string(s.config_path()).unwrap(), template);
    let shown = s.ok(&["generate-config", "--show-hardware-config"]);
    assert_eq!(shown.trim_end(), hw_text.trim_end());

    // install: generation 1, activated into the root.
    s.ok(&["install"]);
    let (n1, sys1) = s.current().unwrap();
    assert_eq!(n1, 1);
    assert_eq!(s.link("/run/current-system"), sys1);
    assert_eq!(s.link("/etc/static"), format!("{sys1}/etc"));
    assert_eq!(s.link("/etc/hostname"), "/etc/static/hostname");
    assert!(s.exists("/run/current-system/sw/bin/hello"));
    assert!(s.users().contains(&"root".to_string()));
    assert!(!s.users().contains(&"bob".to_string()));

    // A user, a package and an /etc file copied with a mode and owner.
    let edited = template
        .replace("pkgs.hello ]", "pkgs.hello pkgs.greeter ]")
        .replace(
            "  # time.timeZone",
            "  users.users.bob = { isNormalUser = true; description = \"Bob\"; };\n  \
             environment.etc.\"bob.conf\" = { text = \"x\"; mode = \"0640\"; user = \"bob\"; group = \"users\"; };\n  \
             services.tick.command = \"${pkgs.tools}/bin/sleep 1000\";\n  # time.timeZone",
        );
    std::fs::write(s.config_path(), &edited).unwrap();
    let diff = s.ok(&["rebuild", "dry-activate"]);
    assert!(diff.contains("would add users: bob"), "{diff}");
    assert!(diff.contains("would add to /etc: bob.conf"), "{diff}");
    assert!(
        diff.contains("would create home directories: /home/bob"),
        "{diff}"
    );
    assert_eq!(s.current().unwrap().0, 1, "dry-activate made a generation");
    assert!(
        !s.users().contains(&"bob".to_string()),
        "dry-activate changed passwd"
    );

    s.ok(&["rebuild", "switch"]);
    let (n2, sys2) = s.current().unwrap();
    assert_eq!(n2, 2);
    assert_eq!(s.link("/run/current-system"), sys2);
    assert!(s.users().contains(&"bob".to_string()));
    assert!(s
        .read("/etc/passwd")
        .contains("bob:x:1000:100:Bob:/home/bob:"));
    assert!(
        s.exists("/run/current-system/sw/bin/greet"),
        "package not on the system PATH"
    );
    let home = std::fs::metadata(s.root.join("home/bob")).unwrap();
    assert_eq!(home.permissions().mode() & 0o7777, 0o700);
    let conf = std::fs::symlink_metadata(s.root.join("etc/bob.conf")).unwrap();
    assert!(conf.is_file());
    assert_eq!(conf.permissions().mode() & 0o7777, 0o640);
    if nix::unistd::getuid().is_root() {
        use std::os::unix::fs::MetadataExt;
        assert_eq!((home.uid(), home.gid()), (1000, 100));
        assert_eq!((conf.uid(), conf.gid()), (1000, 100));
    }
    // A no-change switch keeps the generation.
    s.ok(&["rebuild", "switch"]);
    assert_eq!(s.current().unwrap().0, 2);

    let diff = s.ok(&["rebuild", "dry-activate", "--rollback"]);
    assert!(diff.contains("would remove users: bob"), "{diff}");
    assert!(diff.contains("would remove from /etc: bob.conf"), "{diff}");
    assert!(
        diff.contains("would stop the following services: tick"),
        "{diff}"
    );
    assert!(
        diff.contains(&format!("would switch /run/current-system to {sys1}")),
        "{diff}"
    );
    assert_eq!(
        s.link("/run/current-system"),
        sys2,
        "dry-activate activated"
    );
    // --rollback: the user and the copied file are gone again, generation 1 is current.
    s.ok(&["rebuild", "switch", "--rollback"]);
    assert_eq!(s.current().unwrap(), (1, sys1.clone()));
    assert_eq!(s.link("/run/current-system"), sys1);
    assert!(!s.users().contains(&"bob".to_string()));
    assert!(std::fs::symlink_metadata(s.root.join("etc/bob.conf")).is_err());
    assert!(!s.exists("/run/current-system/sw/bin/greet"));
    let list = s.ok(&["list-generations"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(
        lines[0].trim_start().starts_with("1 ") && lines[0].ends_with("(current)"),
        "{list}"
    );
    assert!(
        lines[1].trim_start().starts_with("2 ") && lines[1].contains(&sys2),
        "{list}"
    );

    // gc keeps every generation's closure.
    s.ok(&["gc"]);
    for sys in [&sys1, &sys2] {
        assert!(s.exists(&format!("{sys}/activate")), "{sys} collected");
    }
    assert!(s.exists(&format!("{sys2}/sw/bin/greet")));
    assert!(s.exists(&format!("{sys2}/etc/bob.conf")));
    // switch-generation activates the generation it chooses.
    s.ok(&["switch-generation", "2"]);
    assert_eq!(s.link("/run/current-system"), sys2);
    assert!(s.users().contains(&"bob".to_string()));
    s.ok(&["switch-generation", "1"]);
    // Once generation 2 is deleted, gc takes what only it used.
    s.ok(&["delete-generations", "old"]);
    assert_eq!(s.target().profile().generations().unwrap().len(), 1);
    s.ok(&["gc"]);
    assert!(
        !s.exists(&format!("{sys2}/activate")),
        "a deleted generation's system stays"
    );
    assert!(s.exists(&format!("{sys1}/activate")));
}

#[test]
fn boot_test_build_and_dry_build() {
    if !common::usable() {
        return;
    }
    let s = Scratch::new();
    s.ok(&["generate-config"]);
    let hardware = s.root.join("etc/osconf/hardware-configuration.nix");
    let base = s.write_config("base.nix", &config_with(&hardware, ""));
    let base = base.to_str().unwrap();
    s.ok(&["install", "--config", base]);
    let (_, sys1) = s.current().unwrap();

    let with_motd = s.write_config(
        "motd.nix",
        &config_with(&hardware, "  environment.etc.motd.text = \"hello\";"),
    );
    let motd_arg = format!("osconf-config={}", with_motd.display());

    // dry-build names what would be built and builds nothing; build links ./result.
    let (ok, _, stderr) = s.run(&["rebuild", "dry-build", "-I", &motd_arg]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("derivations would be built:"), "{stderr}");
    assert!(stderr.contains("-etc-motd.drv"), "{stderr}");
    let built = s.ok(&["rebuild", "build", "-I", &motd_arg]);
    let sys2 = built.trim().to_owned();
    assert_eq!(
        std::fs::read_link(s.cwd.join("result")).unwrap(),
        Path::new(&sys2)
    );
    let (ok, _, stderr) = s.run(&["rebuild", "dry-build", "-I", &motd_arg]);
    assert!(ok && stderr.contains("nothing would be built"), "{stderr}");
    assert_eq!(s.current().unwrap().1, sys1, "build changed the profile");

    // test: activated, no generation.
    s.ok(&["rebuild", "test", "-I", &motd_arg]);
    assert_eq!(s.link("/run/current-system"), sys2);
    assert_eq!(s.read("/etc/motd"), "hello");
    assert_eq!(s.target().profile().generations().unwrap().len(), 1);
    // test --rollback: the generation before the current one... there is none.
    let (ok, _, stderr) = s.run(&["rebuild", "test", "--rollback"]);
    assert!(!ok && stderr.contains("no generation before"), "{stderr}");
    // boot: a generation, not activated.
    s.ok(&["rebuild", "switch", "--config", base]);
    assert_eq!(s.read("/etc/motd"), "");
    s.ok(&["rebuild", "boot", "-I", &motd_arg]);
    assert_eq!(s.current().unwrap().1, sys2);
    assert_eq!(s.link("/run/current-system"), sys1);
    assert_eq!(s.read("/etc/motd"), "");
    // boot --rollback moves the profile back; --rollback with build is refused.
    s.ok(&["rebuild", "boot", "--rollback"]);
    assert_eq!(s.current().unwrap().1, sys1);
    let (ok, _, stderr) = s.run(&["rebuild", "build", "--rollback"]);
    assert!(
        !ok && stderr.contains("--rollback does not apply"),
        "{stderr}"
    );
    let (ok, _, stderr) = s.run(&["rebuild", "switch", "-I", "nixpkgs=/x"]);
    assert!(!ok && stderr.contains("osconf-config=FILE"), "{stderr}");
}

/// Copies `from` into `to` (files and directories).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn the_package_set_is_chosen_with_pkgs_or_osconf_pkgs() {
    if !common::usable() {
        return;
    }
    let s = Scratch::new();
    s.ok(&["generate-config"]);
    // A copy of the example package set with one more attribute.
    let pkgs = s.cwd.join("pkgs");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../pkgs"),
        &pkgs,
    );
    let default = pkgs.join("default.nix");
    let text = std::fs::read_to_string(&default).unwrap();
    std::fs::write(
        &default,
        text.replace("self = rec {", "self = rec {\n    mine = hello;"),
    )
    .unwrap();
    let hardware = s.root.join("etc/osconf/hardware-configuration.nix");
    let config = s.write_config(
        "mine.nix",
        &config_with(&hardware, "  environment.systemPackages = [ pkgs.mine ];"),
    );
    let config = config.to_str().unwrap();
    let (ok, _, stderr) = s.run(&["rebuild", "dry-build", "--config", config]);
    assert!(!ok && stderr.contains("mine"), "{stderr}");
    let pkgs_arg = pkgs.to_str().unwrap();
    s.ok(&[
        "rebuild",
        "dry-build",
        "--config",
        config,
        "--pkgs",
        pkgs_arg,
    ]);
    let out = common::command(
        &s.root,
        &s.cwd,
        &["rebuild", "dry-build", "--config", config],
    )
    .env("OSCONF_PKGS", pkgs_arg)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A module's `warnings` are printed (each once, as NixOS prints them) and the command
/// goes on; a false assertion beside them still fails it.
#[test]
fn warnings_are_printed_and_do_not_fail() {
    if !common::usable() {
        return;
    }
    let s = Scratch::new();
    s.ok(&["generate-config"]);
    let hardware = s.root.join("etc/osconf/hardware-configuration.nix");
    let warned = s.write_config(
        "warned.nix",
        &config_with(
            &hardware,
            "  warnings = lib.mkMerge [ [ \"the first warning\" ] \
             (lib.mkIf true [ \"the second warning\" ]) ];",
        ),
    );
    let (ok, _, stderr) = s.run(&["rebuild", "dry-build", "--config", warned.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    for w in ["the first warning", "the second warning"] {
        assert_eq!(
            stderr.matches(&format!("warning: {w}")).count(),
            1,
            "{stderr}"
        );
    }
    let failing = s.write_config(
        "failing.nix",
        &config_with(
            &hardware,
            "  warnings = [ \"only a warning\" ];\n  \
             assertions = [ { assertion = false; message = \"a real problem\"; } ];",
        ),
    );
    let (ok, _, stderr) = s.run(&[
        "rebuild",
        "dry-build",
        "--config",
        failing.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("Failed assertions") && stderr.contains("- a real problem"),
        "{stderr}"
    );
}
