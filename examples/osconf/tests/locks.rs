//! The activation lock of a target root: `rebuild switch` waits while another process
//! holds it (saying whom it waits for) and changes nothing meanwhile; two `rebuild
//! switch` started together serialise, leaving the profile, /etc and
//! /run/current-system at one generation. (The run lock of `osconf run` is shown by
//! crates/osconf/tests/container.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{config_with, Scratch};
use nixkit_osconf::lock::LockFile;

/// Waits for `child` at most `secs` seconds; its exit status.
fn wait(child: &mut std::process::Child, secs: u64) -> std::process::ExitStatus {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("osconf did not finish in {secs} seconds");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rebuild_switch_waits_for_the_lock_and_concurrent_switches_serialise() {
    if !common::usable() {
        return;
    }
    let s = Scratch::new();
    s.ok(&["generate-config"]);
    let hardware = s.root.join("etc/osconf/hardware-configuration.nix");
    let write = |name: &str, text: &str| {
        let body = format!("  environment.etc.which.text = \"{text}\";\n");
        s.write_config(name, &config_with(&hardware, &body))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let (a, b, c) = (
        write("a.nix", "a"),
        write("b.nix", "b"),
        write("c.nix", "c"),
    );
    s.ok(&["install", "--config", &a]);
    assert_eq!(s.current().unwrap().0, 1);

    // Another process holds the lock: switch waits, naming it, and changes nothing.
    let lock = LockFile::open(&s.target().lock_path()).unwrap();
    assert!(lock.try_lock().unwrap());
    lock.set_holder(std::process::id(), "the test").unwrap();
    let log = s.cwd.join("switch.log");
    let mut child = common::command(&s.root, &s.cwd, &["rebuild", "switch", "--config", &b])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("waiting for the lock") || Instant::now() > end {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        text.contains(&format!(
            "on '{}', held by pid {} (the test)",
            s.root.display(),
            std::process::id()
        )),
        "{text}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(child.try_wait().unwrap().is_none(), "switch did not wait");
    assert_eq!(s.current().unwrap().0, 1);
    assert_eq!(s.read("/etc/which"), "a");
    drop(lock);
    assert!(
        wait(&mut child, 300).success(),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert_eq!(s.current().unwrap().0, 2);
    assert_eq!(s.read("/etc/which"), "b");

    // Two switches at once: one after the other, each a whole generation.
    let mut first = common::spawn(&s.root, &s.cwd, &["rebuild", "switch", "--config", &c]);
    let mut second = common::spawn(&s.root, &s.cwd, &["rebuild", "switch", "--config", &a]);
    assert!(wait(&mut first, 300).success());
    assert!(wait(&mut second, 300).success());
    let (n, system) = s.current().unwrap();
    assert_eq!(n, 4);
    assert_eq!(s.link("/run/current-system"), system);
    assert_eq!(s.link("/etc/static"), format!("{system}/etc"));
    let which = s.read("/etc/which");
    assert_eq!(which, s.read(&format!("{system}/etc/which")));
    assert!(which == "a" || which == "c", "{which}");
}
