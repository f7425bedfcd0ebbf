//! `nixkit build` without privileges: the sandbox runs in a user namespace that maps the
//! caller's own ids to the build user (uid 1000, gid 100 inside). Run as root, the test
//! copies the `nixkit` binary and busybox into a temporary directory owned by `nobody` and
//! builds there as `nobody` (via `setpriv`); otherwise it builds directly.
#![allow(clippy::unwrap_used, missing_docs)]

use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// Why unprivileged user namespaces cannot be used here, if they cannot.
fn userns_disabled() -> Option<String> {
    let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Some("kernel.unprivileged_userns_clone = 0".into());
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Some("user.max_user_namespaces = 0".into());
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Some("kernel.apparmor_restrict_unprivileged_userns = 1".into());
    }
    None
}

/// The uid and gid of `nobody`, from /etc/passwd.
fn nobody() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("nobody:"))?;
    let f: Vec<&str> = line.split(':').collect();
    Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
}

/// Recursively gives `path` to `uid:gid`.
fn chown_tree(path: &Path, uid: u32, gid: u32) {
    chown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap().flatten() {
            chown_tree(&e.path(), uid, gid);
        }
    }
}

const EXPR: &str = r#"let bb = builtins.path { path = ./bb; name = "busybox"; };
in derivation { name = "whoami"; system = builtins.currentSystem; builder = "${bb}/busybox";
  args = [ "sh" "-e" "-c" "mkdir $out; id -u > $out/uid; id -g > $out/gid; cat /proc/self/uid_map > $out/uid_map" ]; }"#;

#[test]
fn builds_in_a_user_namespace_without_privileges() {
    if !Path::new("/bin/busybox").exists() {
        eprintln!("skipping: /bin/busybox is missing (apt-get install busybox-static)");
        return;
    }
    if let Some(why) = userns_disabled() {
        eprintln!("skipping: unprivileged user namespaces are disabled ({why})");
        return;
    }
    let root = nix_is_root();
    let tmp = tempfile::tempdir().unwrap();
    // The temporary directory itself must be traversable by the build user.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join("bb")).unwrap();
    std::fs::copy("/bin/busybox", work.join("bb/busybox")).unwrap();
    std::fs::write(work.join("whoami.nix"), EXPR).unwrap();
    let mut cmd;
    let expected_host_uid;
    if root {
        let Some((uid, gid)) = nobody() else {
            eprintln!("skipping: no 'nobody' user to drop privileges to");
            return;
        };
        // A copy of the binary the unprivileged user can execute (the build tree may not
        // be reachable for it); the repository itself is left alone.
        let bin = work.join("nixkit");
        std::fs::copy(env!("CARGO_BIN_EXE_nixkit"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        chown_tree(&work, uid, gid);
        let probe = Command::new("setpriv")
            .args([
                format!("--reuid={uid}"),
                format!("--regid={gid}"),
                "--clear-groups".into(),
            ])
            .args(["/bin/busybox", "unshare", "-U", "true"])
            .status();
        match probe {
            Ok(s) if s.success() => {}
            Ok(_) => {
                eprintln!("skipping: '{uid}' cannot create a user namespace here");
                return;
            }
            Err(e) => {
                eprintln!("skipping: cannot run setpriv: {e}");
                return;
            }
        }
        cmd = Command::new("setpriv");
        cmd.args([
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".into(),
            "--".into(),
        ])
        .arg(&bin);
        expected_host_uid = uid;
    } else {
        cmd = Command::new(env!("CARGO_BIN_EXE_nixkit"));
        expected_host_uid = std::fs::metadata(&work).unwrap().uid();
    }
    let out = cmd
        .current_dir(&work)
        .env_clear()
        .env("HOME", &work)
        .env("PATH", "/usr/bin:/bin")
        .args(["build", "whoami.nix", "--no-out-link", "--store"])
        .arg(work.join("store"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let real = work.join("store").join(printed.trim_start_matches('/'));
    let read = |f: &str| std::fs::read_to_string(real.join(f)).unwrap();
    assert_eq!(read("uid"), "1000\n");
    assert_eq!(read("gid"), "100\n");
    // Inside, uid 1000 is the caller's own uid on the host (not a dedicated build user).
    let map: Vec<u32> = read("uid_map")
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(map, [1000, expected_host_uid, 1]);
    assert_eq!(
        std::fs::metadata(real.join("uid")).unwrap().uid(),
        expected_host_uid
    );
}

fn nix_is_root() -> bool {
    // The owner of a file we create is our effective uid.
    let f = tempfile::NamedTempFile::new().unwrap();
    f.as_file().metadata().unwrap().uid() == 0
}
