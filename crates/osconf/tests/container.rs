//! `osconf run`'s container through the library API: systems built with nixkit into a
//! scratch root's store, booted with the system's own init as pid 1 (an HTTP service
//! answering on the host's loopback), switched live inside the running container (a
//! changed service restarted, an unchanged one keeping its pid, a new user), rolled back,
//! switched to a system whose service fails to start (an error naming it), switched from
//! the host through `$system/activate-services ROOT`, and stopped (no process left).
//! Restart policies, dependency order, user, environment and working directory of
//! services are checked in a second container. Skipped when user namespaces or busybox
//! are unavailable.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nixkit_core::build::{run as build, BuildOptions};
use nixkit_core::installable::Installables;
use nixkit_core::store::StoreOptions;
use nixkit_osconf::container::{self, ControlError, RunOptions, Running};
use nixkit_osconf::generations::SystemProfile;
use nixkit_osconf::lock::LockFile;
use nixkit_osconf::{eval_json, nix_dir, nix_string};
use std::cell::Cell;

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

/// Builds `configuration` (Nix module source) into `root`'s store; returns the system.
fn build_system(root: &Path, name: &str, configuration: &str) -> String {
    let file = root.join(format!("{name}.nix"));
    std::fs::write(&file, configuration).unwrap();
    let expr = format!(
        "(import {} {{ configuration = {}; }}).config.system.build.toplevel",
        nix_string(&nix_dir().join("eval-config.nix").to_string_lossy()),
        nix_string(&file.to_string_lossy()),
    );
    let mut opts = BuildOptions {
        installables: Installables {
            from_expr: true,
            inputs: vec![expr],
            ..Installables::default()
        },
        no_out_link: true,
        quiet: true,
        store: StoreOptions {
            store: Some(root.to_string_lossy().into_owned()),
            ..StoreOptions::default()
        },
        ..BuildOptions::default()
    };
    opts.realise.jobs = 2;
    let mut out = Vec::new();
    build(&opts, &mut out).unwrap_or_else(|e| panic!("building {name}: {e}"));
    String::from_utf8(out).unwrap().trim().to_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The body of `GET /` on 127.0.0.1:`port`, if it answers.
fn get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    // busybox httpd answers HTTP/1.1.
    (head.split_whitespace().nth(1) == Some("200")).then(|| body.to_owned())
}

/// Waits until `port` serves `body`.
fn wait_for_page(port: u16, body: &str, running: &Running) {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let got = get(port);
        if got.as_deref() == Some(body) {
            return;
        }
        assert!(
            Instant::now() < end,
            "port {port} serves {got:?}, not {body:?}\nconsole:\n{}",
            console(running)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The init's output and the services' logs, for failure messages.
fn console(running: &Running) -> String {
    let mut text = std::fs::read_to_string(running.root().join("nix/var/osconf/console.log"))
        .unwrap_or_default();
    if let Ok(logs) = std::fs::read_dir(running.root().join("var/log/osconf")) {
        for log in logs.flatten() {
            text.push_str(&format!("--- {}\n", log.path().display()));
            text.push_str(&std::fs::read_to_string(log.path()).unwrap_or_default());
        }
    }
    text
}

/// A file of the running container's own file system (its /run is a tmpfs of its own).
fn inside(running: &Running, path: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{}/root{path}", running.pid())).ok()
}

/// The container pid of service `name`'s process.
fn service_pid(running: &Running, name: &str) -> Option<String> {
    inside(running, &format!("/run/osconf/services/{name}/pid")).map(|s| s.trim().to_owned())
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The host name in the container's uts namespace.
fn hostname(running: &Running) -> String {
    let out = Command::new("/bin/busybox")
        .args(["nsenter", "-t", &running.pid().to_string(), "-U", "-u"])
        .args(["--preserve-credentials", "/bin/busybox", "hostname"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Host processes in the pid namespace `ns` that did not end (zombies, which the host's
/// init reaps in its own time, have).
fn processes_in(ns: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("status")).is_ok_and(|s| {
                !s.lines()
                    .any(|l| l.starts_with("State:") && l.contains("Z"))
            })
        })
        .filter(|e| {
            std::fs::read_link(e.path().join("ns/pid")).is_ok_and(|p| p.to_string_lossy() == ns)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn web_config(port: u16, page: &str, extra: &str) -> String {
    format!(
        r#"{{ pkgs, lib, ... }}: {{
  networking.hostName = lib.mkDefault "webbox";
  services.httpd = {{ enable = true; port = {port}; documentRoot = pkgs.writeTextDir "index.html" "{page}"; }};
  services.cron = {{ enable = true; systemCronJobs = [ "* * * * * echo fired >> /var/log/cron-fired" ]; }};
  {extra}
}}"#
    )
}

/// Stops the container when a test fails half-way.
struct StopOnDrop(Option<Running>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            let _ = r.stop(Duration::from_secs(10));
        }
    }
}

#[test]
fn boot_switch_rollback_fail_stop() {
    if !usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let port = free_port();
    let v1 = build_system(&root, "v1", &web_config(port, "v1", ""));
    let v2 = build_system(
        &root,
        "v2",
        &web_config(
            port,
            "v2",
            r#"users.users.alice.isNormalUser = true; imports = [ { networking.hostName = "webbox2"; } ];"#,
        ),
    );
    let broken = build_system(
        &root,
        "broken",
        &web_config(
            port,
            "v1",
            r#"services.broken = { command = "${pkgs.tools}/bin/sh -c 'echo cannot start; exit 3'"; };"#,
        ),
    );
    let profile = SystemProfile::new(&root);
    profile.add(Path::new(&v1)).unwrap();

    // Boot: the page answers on the host's loopback, the services run under the init.
    let running = container::run(&RunOptions::new(&root)).unwrap();
    let mut guard = StopOnDrop(Some(running.clone()));
    // The booting init holds the activation lock while it activates the system (a
    // `rebuild switch` waits for it), and lets it go once booted.
    let activation_lock = LockFile::open(
        &nixkit_osconf::target::Target::new(&root)
            .unwrap()
            .lock_path(),
    )
    .unwrap();
    assert!(
        !activation_lock.try_lock().unwrap(),
        "the boot does not hold the lock"
    );
    assert_eq!(
        activation_lock.holder(),
        format!(
            "pid {} (the container's init, activating the booting system)",
            running.pid()
        )
    );
    wait_until("the boot to release the activation lock", || {
        activation_lock.try_lock().unwrap()
    });
    drop(activation_lock);
    // A second boot of the root fails at once, naming the root and the init holding the
    // run lock; the pid file plays no part (the lock is the init's).
    std::fs::remove_file(container::pid_file(&root)).unwrap();
    let started = Instant::now();
    let err = container::run(&RunOptions::new(&root)).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(err, container::RunError::AlreadyRunning { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("a container already runs '{}'", root.display()))
            && text.contains(&format!("pid {} (the container's init)", running.pid()))
            && text.contains("run.lock"),
        "{text}"
    );
    std::fs::write(container::pid_file(&root), format!("{}\n", running.pid())).unwrap();
    wait_for_page(port, "v1", &running);
    assert_eq!(
        std::fs::read_to_string(container::pid_file(&root))
            .unwrap()
            .trim(),
        running.pid().to_string()
    );
    assert_eq!(container::find(&root).unwrap().pid(), running.pid());
    wait_until("cron to run", || service_pid(&running, "cron").is_some());
    let cron = service_pid(&running, "cron").unwrap();
    let httpd = service_pid(&running, "httpd").unwrap();
    assert_eq!(hostname(&running), "webbox");
    assert!(inside(&running, "/var/log/osconf/httpd.log")
        .unwrap()
        .contains("starting httpd"));
    // httpd runs as its own user (as root the container has the host's ids).
    if nix::unistd::geteuid().is_root() {
        let status = inside(&running, &format!("/proc/{httpd}/status")).unwrap();
        let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
        let uid = passwd
            .lines()
            .find_map(|l| l.strip_prefix("httpd:x:"))
            .and_then(|l| l.split(':').next())
            .unwrap();
        assert!(
            status
                .lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some(uid)),
            "{status}"
        );
    }

    assert!(matches!(
        running.activate("/tmp/not-a-system x", Duration::from_secs(5)),
        Err(ControlError::BadSystem(_))
    ));

    // Switch: the new page, httpd restarted, cron untouched, the new user.
    profile.add(Path::new(&v2)).unwrap();
    let out = running.activate(&v2, Duration::from_secs(60)).unwrap();
    assert!(
        out.contains("stopping service httpd (its definition changed)"),
        "{out}"
    );
    assert!(!out.contains("service cron"), "{out}");
    wait_for_page(port, "v2", &running);
    assert_ne!(service_pid(&running, "httpd").unwrap(), httpd);
    assert_eq!(service_pid(&running, "cron").unwrap(), cron);
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.lines().any(|l| l.starts_with("alice:")), "{passwd}");
    assert_eq!(hostname(&running), "webbox2");
    let current = std::fs::read_link(format!("/proc/{}/root/run/current-system", running.pid()));
    assert_eq!(current.unwrap(), PathBuf::from(&v2));

    // Rollback: the old page, the user gone, cron still untouched.
    profile.rollback().unwrap();
    running.activate(&v1, Duration::from_secs(60)).unwrap();
    wait_for_page(port, "v1", &running);
    assert_eq!(service_pid(&running, "cron").unwrap(), cron);
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(!passwd.lines().any(|l| l.starts_with("alice:")), "{passwd}");
    assert_eq!(hostname(&running), "webbox");

    // A service that fails to start: an error naming it; the others keep running.
    match running.activate(&broken, Duration::from_secs(60)) {
        Err(ControlError::Failed { output, status, .. }) => {
            assert_ne!(status, 0);
            assert!(
                output.contains("service broken failed to start"),
                "{output}"
            );
            assert!(output.contains("cannot start"), "{output}");
        }
        other => panic!("activating a broken service: {other:?}"),
    }
    assert_eq!(get(port).as_deref(), Some("v1"));
    assert_eq!(service_pid(&running, "cron").unwrap(), cron);

    // Back to v1 from the host, through the hook activation calls (in a mount namespace
    // with the root's store at /nix/store; without a /nix/store to mount over, through
    // the library): the broken service stops, nothing else changes.
    let host_hook = || {
        if !Path::new("/nix/store").is_dir() {
            eprintln!(
                "skipped: the hook from the host (no /nix/store to mount the root's store on)"
            );
            return None;
        }
        let hook = format!(
            "mount --bind {store} /nix/store && exec {v1}/activate-services {root}",
            store = root.join("nix/store").display(),
            root = root.display()
        );
        let flags = if nix::unistd::geteuid().is_root() {
            "-m"
        } else {
            "-Urm"
        };
        let out = Command::new("/bin/busybox")
            .args(["unshare", flags, "/bin/busybox", "sh", "-c", &hook])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Some((out.status.success(), text))
    };
    let text = match host_hook() {
        Some((ok, text)) => {
            assert!(ok, "{text}");
            text
        }
        None => running
            .switch_services(&v1, Duration::from_secs(60))
            .unwrap(),
    };
    assert!(text.contains("stopping service broken"), "{text}");
    assert!(inside(&running, "/run/osconf/services/broken/pid").is_none());
    assert_eq!(service_pid(&running, "cron").unwrap(), cron);

    // The cron job has fired (busybox crond runs jobs at minute boundaries: at
    // most a minute after boot).
    let fired = Instant::now() + Duration::from_secs(75);
    while !inside(&running, "/var/log/cron-fired").is_some_and(|t| t.starts_with("fired\n")) {
        assert!(
            Instant::now() < fired,
            "the cron job did not fire; cron's log:\n{}",
            inside(&running, "/var/log/osconf/cron.log").unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // Stop: every process of the container ends, the page is gone.
    let ns = running.pid_namespace().unwrap();
    assert!(processes_in(&ns).len() >= 4);
    guard.0 = None;
    running.stop(Duration::from_secs(20)).unwrap();
    assert!(!running.is_running());
    // The kernel kills the rest when the init exits; their /proc entries go a moment later.
    wait_until("the container's processes to end", || {
        processes_in(&ns).is_empty()
    });
    assert!(get(port).is_none());
    assert!(container::find(&root).is_none());
    assert!(!container::pid_file(&root).exists());
    assert!(
        std::fs::read_to_string(root.join("nix/var/osconf/console.log"))
            .unwrap()
            .contains("init: stopped")
    );
    // With no container running, the hook does nothing and succeeds.
    if let Some((ok, text)) = host_hook() {
        assert!(ok && text.is_empty(), "{text}");
    }
    assert!(matches!(
        container::stop(&root, Duration::from_secs(1)),
        Err(container::StopError::NotRunning(_))
    ));
}

#[test]
fn restart_policies_order_user_environment() {
    if !usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let system = build_system(
        &root,
        "policies",
        r#"{ pkgs, ... }:
let sh = "${pkgs.tools}/bin/sh"; in {
  users.users.worker = { isSystemUser = true; group = "work"; extraGroups = [ "www" ]; home = "/var/lib/work"; createHome = true; };
  users.groups.work = { };
  users.groups.www = { };
  users.users.alice = { isNormalUser = true; extraGroups = [ "wheel" "www" ]; };
  # As alice, with her primary group (users) and her extra groups.
  services.alice = { command = "${sh} -c 'echo \"$(id -un):$(id -gn) $(grep Groups: /proc/self/status)\"; exec sleep 1000'"; user = "alice"; };
  services.always = { command = "${sh} -c 'sleep 0.3; exit 0'"; restart = "always"; restartDelay = 0; };
  services.onfailure = { command = "${sh} -c 'sleep 0.3; exit 4'"; restart = "on-failure"; restartDelay = 0; };
  services.once = { command = "${sh} -c 'sleep 0.3; exit 4'"; restart = "no"; };
  services.clean = { command = "${sh} -c 'sleep 0.3; exit 0'"; restart = "on-failure"; restartDelay = 0; };
  services.env = {
    command = "${sh} -c 'echo \"$GREETING $(pwd) $(id -un):$(id -gn) $(grep Groups: /proc/self/status)\"; exec sleep 1000'";
    environment.GREETING = "hello there";
    workingDirectory = "/var/lib/work";
    user = "worker";
    group = "work";
    after = [ "zlast" ];
  };
  services.zlast = { command = "${sh} -c 'exec sleep 1000'"; wants = [ "once" ]; };
  # Restarted only after a delay longer than the test (which stops it while it waits).
  services.slow = { command = "${sh} -c 'exit 0'"; restart = "always"; restartDelay = 30; };
  # Leaves orphans, which become the init's children: it must reap them.
  services.orphans = { command = "${sh} -c '(sleep 0.2 &); (sleep 0.3 &); exec sleep 1000'"; };
}"#,
    );
    let order = std::fs::read_to_string(root.join(format!(
        "{}/order",
        std::fs::read_link(root.join(system.trim_start_matches('/')).join("services"))
            .unwrap()
            .to_string_lossy()
            .trim_start_matches('/')
    )))
    .unwrap();
    let order: Vec<&str> = order.lines().collect();
    let pos = |n: &str| order.iter().position(|x| *x == n).unwrap();
    assert!(
        pos("once") < pos("zlast") && pos("zlast") < pos("env"),
        "{order:?}"
    );
    SystemProfile::new(&root).add(Path::new(&system)).unwrap();
    let running = container::run(&RunOptions::new(&root)).unwrap();
    let _guard = StopOnDrop(Some(running.clone()));
    let exits = |name: &str| -> u32 {
        inside(&running, &format!("/run/osconf/services/{name}/exits"))
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };
    wait_until("restarts", || {
        exits("always") >= 3 && exits("onfailure") >= 3
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(exits("once"), 1, "restart = no");
    assert_eq!(exits("clean"), 1, "on-failure after a success");
    assert_eq!(exits("slow"), 1, "restartDelay");
    let log =
        |name: &str| inside(&running, &format!("/var/log/osconf/{name}.log")).unwrap_or_default();
    let gid = |name: &str| -> u32 {
        let group = std::fs::read_to_string(root.join("etc/group")).unwrap();
        group
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:x:")))
            .and_then(|l| l.split(':').next())
            .unwrap()
            .parse()
            .unwrap()
    };
    // The supplementary groups a service's process has (its `Groups:` line), sorted.
    let groups_of = |log: &str| -> Vec<u32> {
        let line = log.lines().find(|l| l.contains("Groups:")).unwrap_or("");
        let mut ids: Vec<u32> = line
            .split("Groups:")
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .map(|g| g.parse().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    let sorted = |mut ids: Vec<u32>| {
        ids.sort_unstable();
        ids
    };
    if nix::unistd::geteuid().is_root() {
        wait_until("env's output", || log("env").contains("hello there"));
        let env = log("env");
        assert!(
            env.contains("hello there /var/lib/work worker:work Groups:"),
            "{env}"
        );
        assert_eq!(
            groups_of(&env),
            sorted(vec![gid("work"), gid("www")]),
            "{env}"
        );
        wait_until("alice's output", || log("alice").contains("Groups:"));
        let alice = log("alice");
        assert!(alice.contains("alice:users Groups:"), "{alice}");
        assert_eq!(
            groups_of(&alice),
            sorted(vec![gid("users"), gid("wheel"), gid("www")]),
            "{alice}"
        );
    } else {
        // Unprivileged, the container has one id: services of other users are refused
        // (never run as root), once, and say why.
        for name in ["env", "alice"] {
            wait_until("the refusal", || log(name).contains("refusing to start"));
            let text = log(name);
            assert!(text.contains("cannot switch to them"), "{text}");
            assert!(!text.contains("hello there"), "{text}");
            std::thread::sleep(Duration::from_millis(1500));
            assert_eq!(exits(name), 1, "a refused service was restarted");
        }
    }
    assert!(
        log("once").contains("once exited with status 4"),
        "{}",
        log("once")
    );
    // No zombies: the orphans ended long ago and the init reaped them.
    let ns = running.pid_namespace().unwrap();
    let zombies = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                std::fs::read_link(e.path().join("ns/pid")).is_ok_and(|p| p.to_string_lossy() == ns)
            })
            .filter(|e| {
                std::fs::read_to_string(e.path().join("status")).is_ok_and(|s| {
                    s.lines()
                        .any(|l| l.starts_with("State:") && l.contains('Z'))
                })
            })
            .count()
    };
    wait_until("the init to reap orphans", || zombies() == 0);
    assert!(inside(&running, "/var/log/osconf/orphans.log").is_some());

    // Killed outright: every process of the container dies with its init, the pid file
    // is stale, and the root boots again.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(running.pid()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(running.wait(Duration::from_secs(10)));
    wait_until("the container's processes to die", || {
        processes_in(&ns).is_empty()
    });
    assert!(container::pid_file(&root).exists());
    assert!(container::find(&root).is_none());
    // The run lock died with the init (no process of the container keeps it).
    let again = container::run(&RunOptions::new(&root)).unwrap();
    let _guard = StopOnDrop(Some(again.clone()));
    wait_until("zlast to run again", || {
        service_pid(&again, "zlast").is_some()
    });
    again.stop(Duration::from_secs(20)).unwrap();
    assert!(!again.is_running());
}

/// The start order of services: `after` first, being after oneself ignored, a cycle an
/// error naming the services on it (found while evaluating, before anything is built).
#[test]
fn service_dependency_cycles_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let eval = |services: &str| {
        let file = dir.path().join("configuration.nix");
        std::fs::write(&file, format!("{{ ... }}: {{ {services} }}")).unwrap();
        eval_json(
            &format!(
                "(import {} {{ configuration = {}; }}).config.system.build.toplevel.drvPath",
                nix_string(&nix_dir().join("eval-config.nix").to_string_lossy()),
                nix_string(&file.to_string_lossy()),
            ),
            dir.path(),
        )
    };
    let err = eval(
        r#"services.a = { command = "a"; after = [ "b" ]; };
           services.b = { command = "b"; after = [ "c" ]; };
           services.c = { command = "c"; wants = [ "a" ]; };"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("a dependency cycle (a -> b -> c -> a)"),
        "{err}"
    );
    eval(r#"services.a = { command = "a"; after = [ "a" "gone" ]; };"#).unwrap();
}

/// `osconf run` in the foreground: the init's output is copied as it comes, and a stop
/// request (Ctrl-C in the binary) stops the container.
#[test]
fn foreground_run_copies_the_console_and_stops_on_request() {
    if !usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let port = free_port();
    let system = build_system(&root, "fg", &web_config(port, "foreground", ""));
    SystemProfile::new(&root).add(Path::new(&system)).unwrap();
    let served = Cell::new(false);
    let mut out = Vec::new();
    let stop_requested = || {
        if get(port).as_deref() == Some("foreground") {
            served.set(true);
        }
        served.get()
    };
    let started = Instant::now();
    container::run_foreground(
        &RunOptions::new(&root),
        &mut out,
        &stop_requested,
        Duration::from_secs(20),
    )
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(served.get(), "{out}");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        out.contains("init: booting") && out.contains("init: stopped"),
        "{out}"
    );
    assert!(container::find(&root).is_none());
    assert!(get(port).is_none());
}

/// Booting a root without a system, or with a system without an init, is an error that
/// says so (checked before any namespace is made).
#[test]
fn booting_needs_an_installed_system_with_an_init() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let err = container::run(&RunOptions::new(root)).unwrap_err();
    assert!(matches!(err, container::RunError::NoSystem(_)), "{err:?}");
    assert!(err.to_string().contains("has no system profile"), "{err}");
    // A system from before containers: no init program.
    let system = "/nix/store/00000000000000000000000000000000-osconf-system-old";
    std::fs::create_dir_all(root.join(system.trim_start_matches('/'))).unwrap();
    SystemProfile::new(root).add(Path::new(system)).unwrap();
    let err = container::run(&RunOptions::new(root)).unwrap_err();
    assert!(matches!(err, container::RunError::NoInit { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("{system}/init")), "{err}");
    assert!(container::find(root).is_none());
}
