//! osconf's whole promise through its binary, as a user plays it: generate-config on a
//! scratch root, install a system serving a page, `osconf run --detach` boots it in a
//! container, the page is fetched from the host; a new page, a user and a package go into
//! configuration.nix and `rebuild switch` applies them live (the unchanged service keeps
//! its process); `--rollback` brings the old page back and the user leaves;
//! list-generations and gc keep both generations; a service that fails to start makes
//! `switch` fail naming it, and `--rollback` undoes it; `osconf stop` leaves no process.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{config_with, Scratch};

/// Whether containers can be made here (busybox and user namespaces).
fn containers_usable() -> bool {
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The body of `GET /` on 127.0.0.1:`port`, if it answers 200.
fn get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    (head.split_whitespace().nth(1) == Some("200")).then(|| body.to_owned())
}

/// Waits until `port` serves `body`; the container's console and logs on failure.
fn wait_for_page(s: &Scratch, port: u16, body: &str) {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let got = get(port);
        if got.as_deref() == Some(body) {
            return;
        }
        assert!(
            Instant::now() < end,
            "port {port} serves {got:?}, not {body:?}\nconsole:\n{}",
            console(&s.root)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn console(root: &Path) -> String {
    let mut text =
        std::fs::read_to_string(root.join("nix/var/osconf/console.log")).unwrap_or_default();
    if let Ok(logs) = std::fs::read_dir(root.join("var/log/osconf")) {
        for log in logs.flatten() {
            text.push_str(&format!("--- {}\n", log.path().display()));
            text.push_str(&std::fs::read_to_string(log.path()).unwrap_or_default());
        }
    }
    text
}

/// The host pid of the container's init, from `osconf run --detach`'s output.
fn init_pid(stdout: &str) -> i32 {
    stdout.trim().parse().unwrap()
}

/// A file of the running container's own file system (its /run is its own tmpfs).
fn inside(pid: i32, path: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/root{path}")).ok()
}

/// The pid (in the container) of service `name`'s process.
fn service_pid(pid: i32, name: &str) -> Option<String> {
    inside(pid, &format!("/run/osconf/services/{name}/pid")).map(|p| p.trim().to_owned())
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// Stops the container if the test fails half-way.
struct StopOnDrop<'a>(&'a Scratch);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["stop", "--timeout", "5"]);
    }
}

#[test]
fn install_run_switch_live_rollback_stop() {
    if !common::usable() || !containers_usable() {
        return;
    }
    let s = Scratch::new();
    s.ok(&["generate-config"]);
    let hardware = s.root.join("etc/osconf/hardware-configuration.nix");
    let port = free_port();
    let config = |page: &str, packages: &str, extra: &str| {
        config_with(
            &hardware,
            &format!(
                "  services.httpd = {{ enable = true; port = {port}; \
                 documentRoot = pkgs.writeTextDir \"index.html\" \"{page}\"; }};\n  \
                 services.tick.command = \"${{pkgs.tools}}/bin/sleep 100000\";\n  \
                 environment.systemPackages = [ {packages} ];\n{extra}"
            ),
        )
    };
    std::fs::write(s.config_path(), config("v1", "pkgs.hello", "")).unwrap();
    s.ok(&["install"]);
    let (n1, sys1) = s.current().unwrap();
    assert_eq!(n1, 1);

    // Boot: the page is served on the host's loopback.
    let pid = init_pid(&s.ok(&["run", "--detach"]));
    let _stop = StopOnDrop(&s);
    assert!(alive(pid));
    wait_for_page(&s, port, "v1");
    let tick = service_pid(pid, "tick").expect("tick runs");

    // A new page, a user and a package: applied live by `rebuild switch`.
    std::fs::write(
        s.config_path(),
        config(
            "v2",
            "pkgs.hello pkgs.greeter",
            "  users.users.carol = { isNormalUser = true; };\n",
        ),
    )
    .unwrap();
    // Right after boot: the switch waits for the booting init and is applied live.
    let (ok, out, err) = s.run(&["rebuild", "switch"]);
    assert!(ok, "rebuild switch failed:\n{err}");
    assert!(
        format!("{out}{err}").contains("osconf: stopping service httpd (its definition changed)"),
        "{out}{err}\nconsole:\n{}",
        console(&s.root)
    );
    let (n2, sys2) = s.current().unwrap();
    assert_eq!(n2, 2);
    assert_ne!(sys1, sys2);
    wait_for_page(&s, port, "v2");
    assert!(s.users().contains(&"carol".to_string()));
    let passwd = inside(pid, "/etc/passwd").unwrap_or_default();
    assert!(passwd.contains("carol:"), "{passwd}");
    assert!(s.exists("/run/current-system/sw/bin/greet"));
    assert_eq!(
        service_pid(pid, "tick").as_deref(),
        Some(tick.as_str()),
        "an unchanged service was restarted"
    );

    // Rollback: the old page, the user gone, still the same container.
    s.ok(&["rebuild", "switch", "--rollback"]);
    assert_eq!(s.current().unwrap().0, 1);
    wait_for_page(&s, port, "v1");
    assert!(!s.users().contains(&"carol".to_string()));
    assert!(alive(pid));

    // Both generations listed, and gc keeps both closures.
    let listed = s.ok(&["list-generations"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(
        listed.lines().next().unwrap().contains("(current)"),
        "{listed}"
    );
    s.ok(&["gc"]);
    for sys in [&sys1, &sys2] {
        assert!(s.exists(&format!("{sys}/activate")), "gc deleted {sys}");
    }

    // A service that fails to start: `switch` exits non-zero naming it (the generation
    // is made all the same), and `--rollback` returns to the one before it.
    std::fs::write(
        s.config_path(),
        config(
            "v1",
            "pkgs.hello",
            "  services.broken.command = \"${pkgs.tools}/bin/sh -c 'echo cannot start; exit 3'\";\n",
        ),
    )
    .unwrap();
    let (ok, out, err) = s.run(&["rebuild", "switch"]);
    assert!(!ok, "switching to a failing service succeeded:\n{out}{err}");
    let text = format!("{out}{err}");
    assert!(
        text.contains("service broken failed to start") && text.contains("cannot start"),
        "{text}"
    );
    assert_eq!(s.current().unwrap().0, 3);
    s.ok(&["rebuild", "switch", "--rollback"]);
    assert_eq!(s.current().unwrap().0, 2);
    wait_for_page(&s, port, "v2");
    assert!(service_pid(pid, "broken").is_none());

    // Stop: the init and everything under it end.
    s.ok(&["stop", "--timeout", "10"]);
    let end = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "the container's init still runs after stop");
    assert!(get(port).is_none(), "the page is still served after stop");
    let (ok, _, stderr) = s.run(&["stop"]);
    assert!(!ok, "stopping a stopped container succeeded");
    assert!(!stderr.is_empty());
}
