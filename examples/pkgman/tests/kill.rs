//! Faults: `kill -9` at random points of an upgrade leaves the profile at the previous or
//! the new generation (never in between: its manifest, its programs and the store agree,
//! and the store verifies), and two pkgman processes on one profile serialise.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::World;
use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::StoreDir;

fn set_version(w: &World, from: u32, to: u32) {
    w.edit_channel(
        &format!("name = \"hello-1.{from}\";"),
        &format!("name = \"hello-1.{to}\";"),
    );
    w.edit_channel(
        &format!("echo \"Hello {from}\""),
        &format!("echo \"Hello {to}\""),
    );
    w.ok(&["channel", "update"]);
}

/// The profile is at a whole generation: its hello is the one its manifest names.
fn consistent(w: &World) -> u32 {
    let installed = w.installed();
    assert_eq!(installed.len(), 1, "{installed:?}");
    let v: u32 = installed[0]
        .strip_prefix("hello-1.")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(w.enter(&["hello"]), format!("Hello {v}\n"));
    let store = LocalStore::open(StoreConfig::new(w.store(), StoreDir::default())).unwrap();
    let report = store.verify(true).unwrap();
    assert!(report.is_ok(), "{:?}", report.messages(&store));
    v
}

#[test]
fn kill_during_upgrade_leaves_old_or_new_generation() {
    if !common::usable() {
        return;
    }
    let w = World::new();
    w.edit_channel("name = \"hello-1.0\";", "name = \"hello-1.0\";");
    w.edit_channel("echo \"Hello, world!\"", "echo \"Hello 0\"");
    w.ok(&["channel", "add", "main", w.channel().to_str().unwrap()]);
    w.ok(&["-Q", "install", "hello"]);
    assert_eq!(consistent(&w), 0);

    // How long an uninterrupted upgrade takes sets the window kills are drawn from.
    set_version(&w, 0, 1);
    let start = Instant::now();
    w.ok(&["-Q", "upgrade"]);
    let window = start.elapsed().as_micros().max(1000) as u64;
    assert_eq!(consistent(&w), 1);

    let mut rng = fastrand::Rng::new();
    eprintln!("kill schedule seed: {}", rng.get_seed());
    let mut version = 1;
    let mut outcomes = (0, 0);
    for round in 0..6 {
        set_version(&w, version, version + 1);
        let before = w.current().unwrap();
        let mut child = w
            .cmd(&["-Q", "upgrade"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Up to a little past the whole run, so that some kills land after the switch.
        let delay = rng.u64(0..window * 13 / 10);
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let now = w.current().unwrap();
        let v = consistent(&w);
        eprintln!("round {round}: killed after {delay} us ({status}): generation {before} -> {now}, hello 1.{v}");
        if now == before {
            assert_eq!(v, version, "the old generation is untouched");
            outcomes.0 += 1;
        } else {
            assert!(now > before);
            assert_eq!(v, version + 1, "a new generation is complete");
            outcomes.1 += 1;
        }
        // Whatever happened, the next upgrade completes it.
        w.ok(&["-Q", "upgrade"]);
        version += 1;
        assert_eq!(consistent(&w), version);
    }
    eprintln!("kept old: {}, switched: {}", outcomes.0, outcomes.1);
}

#[test]
fn concurrent_changes_serialise_on_the_profile_lock() {
    if !common::usable() {
        return;
    }
    let w = World::new();
    w.ok(&["channel", "add", "main", w.channel().to_str().unwrap()]);
    w.ok(&["-Q", "install", "hello"]);
    let a = w
        .cmd(&["-Q", "install", "-A", "main.greeter"])
        .spawn()
        .unwrap();
    let b = w.cmd(&["-Q", "install", "multi"]).spawn().unwrap();
    assert!(a.wait_with_output().unwrap().status.success());
    assert!(b.wait_with_output().unwrap().status.success());
    // Neither change was lost: each started from the other's result or before it.
    assert_eq!(w.installed(), ["greeter-1.0", "hello-1.0", "multi-1.0"]);
    assert_eq!(w.generations().len(), 3);
}
