//! `osconf run` by an unprivileged user (here `nobody`, through `setpriv`): the container
//! maps only that user, as its root, so a service declared with another user is refused
//! — `osconf run` warns naming it, its log says why, it is not restarted and no process
//! of it runs as anyone — while a root service runs, as the calling user on the host.
//! Skipped unless the test runs as root (to become `nobody`) with `setpriv` and
//! unprivileged user namespaces.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{config_with, Scratch};

const NOBODY: &str = "65534";

/// `setpriv` arguments running a program as nobody.
fn as_nobody() -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        &format!("--reuid={NOBODY}"),
        &format!("--regid={NOBODY}"),
        "--clear-groups",
        "--",
    ]);
    c
}

fn usable() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: becoming an unprivileged user needs root");
        return false;
    }
    if !Path::new("/bin/busybox").exists() {
        eprintln!("skipped: needs busybox-static");
        return false;
    }
    let userns = as_nobody()
        .args(["unshare", "-Ur", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !userns {
        eprintln!("skipped: needs setpriv and user namespaces for unprivileged users");
    }
    userns
}

fn chown_tree(path: &Path) {
    let status = Command::new("chown")
        .args(["-R", &format!("{NOBODY}:{NOBODY}")])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// The host's `Uid:` line of process `pid`, as its real uid.
fn host_uid(pid: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_owned)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn unprivileged_run_refuses_services_of_other_users() {
    if !common::usable() || !usable() {
        return;
    }
    let s = Scratch::new();
    s.ok(&["generate-config"]);
    let hardware = s.root.join("etc/osconf/hardware-configuration.nix");
    let body = "  users.users.alice = { isNormalUser = true; extraGroups = [ \"wheel\" ]; };\n  \
                services.mine.command = \"${pkgs.tools}/bin/sleep 100000\";\n  \
                services.theirs = { command = \"${pkgs.tools}/bin/sleep 100000\"; user = \"alice\"; };\n";
    std::fs::write(s.config_path(), config_with(&hardware, body)).unwrap();
    s.ok(&["install"]);

    // The scratch tree and a copy of osconf, nobody's.
    let top = s.root.parent().unwrap();
    std::fs::set_permissions(top, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = top.join("osconf");
    std::fs::copy(env!("CARGO_BIN_EXE_osconf"), &program).unwrap();
    chown_tree(top);
    let osconf = |args: &[&str]| {
        let out = as_nobody()
            .arg(&program)
            .arg("--root")
            .arg(&s.root)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = osconf(&["run", "--detach"]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("will not start: theirs (user alice, group users)"),
        "{stderr}"
    );
    assert!(!stderr.contains("mine"), "{stderr}");
    let pid: i32 = stdout.trim().parse().unwrap();
    type Osconf<'a> = &'a dyn Fn(&[&str]) -> (bool, String, String);
    struct Stop<'a>(Osconf<'a>);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["stop", "--timeout", "5"]);
        }
    }
    let _stop = Stop(&osconf);
    let inside = |path: &str| std::fs::read_to_string(format!("/proc/{pid}/root{path}")).ok();
    let log = |name: &str| inside(&format!("/var/log/osconf/{name}.log")).unwrap_or_default();

    // The root service runs, as nobody on the host.
    wait_until("mine to run", || {
        inside("/run/osconf/services/mine/pid").is_some()
    });
    let mine = inside("/run/osconf/services/mine/pid").unwrap();
    let mine = mine.trim();
    // Its container pid; the host pid is the one in the container's namespace whose
    // NSpid ends with it.
    let host_pid = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|p| p.parse::<u32>().is_ok())
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/status")).is_ok_and(|st| {
                st.lines()
                    .any(|l| l.starts_with("NSpid:") && l.split_whitespace().last() == Some(mine))
                    && std::fs::read_link(format!("/proc/{p}/ns/pid")).ok()
                        == std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
            })
        })
        .expect("mine's host process");
    assert_eq!(host_uid(&host_pid).as_deref(), Some(NOBODY));

    // The other user's service: refused once, saying why, never running.
    wait_until("the refusal", || log("theirs").contains("not restarting"));
    let text = log("theirs");
    assert!(
        text.contains("service theirs: refusing to start: it runs as user alice"),
        "{text}"
    );
    assert!(text.contains("cannot switch to them"), "{text}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        inside("/run/osconf/services/theirs/exits").as_deref(),
        Some("1\n")
    );
    assert!(inside("/run/osconf/services/theirs/pid").is_none());
    let console = std::fs::read_to_string(s.root.join("nix/var/osconf/console.log")).unwrap();
    assert!(
        console.contains("service theirs failed to start (exit status 78)"),
        "{console}"
    );

    let (ok, _, stderr) = osconf(&["stop", "--timeout", "10"]);
    assert!(ok, "{stderr}");
}
