//! osconf under bad input and faults: a configuration with a type error, an undeclared
//! option, a failed assertion or a failing build changes nothing on the target and its
//! error names the option (and the file and line defining it); `kill -9` at random
//! points of `rebuild switch` leaves the profile and /etc at the old or the new
//! generation, and running `switch` again converges.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{config_with, snapshot, Scratch};

/// The target's state outside the store: the root, and the current generation's system.
fn state(s: &Scratch) -> (BTreeMap<String, String>, Option<String>) {
    (snapshot(&s.root), s.current().map(|(_, sys)| sys))
}

#[test]
fn bad_configurations_change_nothing() {
    if !common::usable() {
        return;
    }
    let s = Scratch::new();
    s.ok(&["generate-config"]);
    let hardware = s.root.join("etc/osconf/hardware-configuration.nix");
    let good = s.write_config(
        "good.nix",
        &config_with(&hardware, "  users.users.amy.isNormalUser = true;"),
    );
    s.ok(&["install", "--config", good.to_str().unwrap()]);
    let before = state(&s);
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "type.nix",
            "  time.timeZone = 42;",
            &["time.timeZone", "is not of type", "type.nix:5"],
        ),
        (
            "undeclared.nix",
            "  users.users.amy.isNormalUser = true;\n  networking.hostNme = \"x\";",
            &["networking.hostNme", "does not exist", "undeclared.nix:6"],
        ),
        (
            "assertion.nix",
            "  users.users.eve = { isNormalUser = true; extraGroups = [ \"nosuch\" ]; };",
            &[
                "Failed assertions",
                "users.users.eve.extraGroups",
                "nosuch",
                "assertion.nix:5",
            ],
        ),
        (
            "build.nix",
            "  environment.etc.broken.source = derivation { name = \"broken\"; \
             system = builtins.currentSystem; builder = \"${pkgs.tools}/bin/sh\"; \
             args = [ \"-c\" \"echo failing on purpose >&2; exit 1\" ]; };",
            &["building the system", "broken"],
        ),
    ];
    for (name, body, wanted) in cases {
        let file = s.write_config(name, &config_with(&hardware, body));
        for action in ["switch", "boot", "test"] {
            let (ok, _, stderr) = s.run(&["rebuild", action, "--config", file.to_str().unwrap()]);
            assert!(!ok, "{name}: rebuild {action} succeeded");
            for w in wanted {
                assert!(stderr.contains(w), "{name}: '{w}' not in:\n{stderr}");
            }
            assert!(
                before == state(&s),
                "{name}: rebuild {action} changed the target"
            );
        }
    }
    // install without a configuration says how to make one.
    let empty = Scratch::new();
    let (ok, _, stderr) = empty.run(&["install"]);
    assert!(!ok && stderr.contains("generate-config"), "{stderr}");
    assert!(snapshot(&empty.root).is_empty());
}

/// Checks that the target is at system `a` or `b` (profile, /etc/static and every link of
/// its generation, passwd, /run/current-system).
fn at_old_or_new(s: &Scratch, a: &str, b: &str, what: &str) {
    let current = s.current().map(|(_, sys)| sys).unwrap_or_default();
    assert!(current == a || current == b, "{what}: profile at {current}");
    let static_link = s.link("/etc/static");
    let system = static_link.trim_end_matches("/etc");
    assert!(
        system == a || system == b,
        "{what}: /etc/static -> {static_link}"
    );
    for f in s.read(&format!("{system}/etc-links")).lines() {
        assert_eq!(
            s.link(&format!("/etc/{f}")),
            format!("/etc/static/{f}"),
            "{what}: /etc/{f}"
        );
    }
    let passwd = s.read("/etc/passwd");
    assert!(
        passwd == s.read(&format!("{a}/users/passwd"))
            || passwd == s.read(&format!("{b}/users/passwd")),
        "{what}: /etc/passwd is neither generation's:\n{passwd}"
    );
    let run = s.link("/run/current-system");
    assert!(run == a || run == b, "{what}: /run/current-system -> {run}");
    let name = |x: &str| if x == a { "old" } else { "new" };
    eprintln!(
        "{what}: profile {}, /etc {}, /run/current-system {}",
        name(&current),
        name(system),
        name(&run)
    );
}

#[test]
fn kill_during_switch_leaves_old_or_new_and_rerun_converges() {
    if !common::usable() {
        return;
    }
    let s = Scratch::new();
    s.ok(&["generate-config"]);
    let hardware = s.root.join("etc/osconf/hardware-configuration.nix");
    let a = s.write_config(
        "a.nix",
        &config_with(
            &hardware,
            "  environment.etc.\"a-only\".text = \"a\";\n  environment.etc.shared.text = \"from a\";\n  \
             environment.etc.\"app/secret\" = { text = \"a\"; mode = \"0600\"; };",
        ),
    );
    let b = s.write_config(
        "b.nix",
        &config_with(
            &hardware,
            "  environment.etc.\"b-only\".text = \"b\";\n  environment.etc.shared.text = \"from b\";\n  \
             environment.etc.\"app/secret\" = { text = \"b\"; mode = \"0640\"; };\n  \
             users.users.kim.isNormalUser = true;\n  environment.systemPackages = [ pkgs.greeter ];",
        ),
    );
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    // References: each configuration switched to cleanly (homes made once already).
    s.ok(&["install", "--config", a]);
    s.ok(&["rebuild", "switch", "--config", b]);
    let started = Instant::now();
    s.ok(&["rebuild", "switch", "--config", a]);
    let took = started.elapsed();
    let (ref_a, sys_a) = state(&s);
    s.ok(&["rebuild", "switch", "--config", b]);
    let (ref_b, sys_b) = state(&s);
    // Evaluation alone (the system is built): activation follows it in a switch.
    let started = Instant::now();
    s.ok(&["rebuild", "dry-build", "--config", b]);
    let evaluating = started.elapsed().min(took);
    let (sys_a, sys_b) = (sys_a.unwrap(), sys_b.unwrap());
    assert_ne!(ref_a, ref_b);
    s.ok(&["rebuild", "switch", "--config", a]);
    assert!(state(&s).0 == ref_a);

    fastrand::seed(15);
    for round in 0..12 {
        // A third of the rounds anywhere in the run, the others after evaluation (activation).
        let delay = if round % 3 == 0 {
            took.mul_f64(fastrand::f64())
        } else {
            evaluating + (took - evaluating).mul_f64(fastrand::f64())
        };
        let fraction = delay.as_secs_f64() / took.as_secs_f64();
        let mut child = common::spawn(&s.root, &s.cwd, &["rebuild", "switch", "--config", b]);
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        // The activation helper dies with osconf; give a running `mv` a moment.
        std::thread::sleep(Duration::from_millis(50));
        at_old_or_new(
            &s,
            &sys_a,
            &sys_b,
            &format!("round {round} killed at {fraction:.2}"),
        );
        // Switching again converges (to either configuration).
        let (to, reference) = if round % 3 == 0 {
            (b, &ref_b)
        } else {
            (a, &ref_a)
        };
        s.ok(&["rebuild", "switch", "--config", to]);
        assert!(
            state(&s).0 == *reference,
            "round {round}: switch did not converge"
        );
        if to == b {
            s.ok(&["rebuild", "switch", "--config", a]);
        }
    }
    assert!(Path::new(&s.root.join("etc/a-only"))
        .symlink_metadata()
        .is_ok());
}
