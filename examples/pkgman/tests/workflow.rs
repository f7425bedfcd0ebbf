//! A user's workflow with pkgman on the busybox package set (a copy in a temporary channel):
//! add a channel, install and run hello, install two more, upgrade one after the package
//! set changes, roll back, collisions and priorities, errors that leave the profile
//! unchanged, generations deleted and garbage collected without touching what the
//! remaining generations use.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::World;
use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::StoreDir;

/// Every generation's closure is valid and its files are present.
fn generations_intact(w: &World) {
    let store = LocalStore::open(StoreConfig::new(w.store(), StoreDir::default())).unwrap();
    let dir = w.profile().parent().unwrap().to_path_buf();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("me-") && name.ends_with("-link")) {
            continue;
        }
        n += 1;
        let target = std::fs::read_link(e.path()).unwrap();
        let path = store
            .store_dir()
            .parse_path(target.to_str().unwrap())
            .unwrap();
        let closure = store.query_closure(&BTreeSet::from([path])).unwrap();
        for p in closure {
            assert!(store.is_valid(&p).unwrap(), "{name}: {p:?} not valid");
            assert!(store.real_path(&p).exists() || store.real_path(&p).is_symlink());
        }
    }
    assert!(n > 0);
    assert!(store.verify(true).unwrap().is_ok());
}

#[test]
fn install_upgrade_rollback_collide_and_collect() {
    if !common::usable() {
        return;
    }
    let w = World::new();
    let chan = w.channel();
    w.ok(&["channel", "add", "main", chan.to_str().unwrap()]);
    assert!(w.ok(&["channel", "list"]).starts_with("main "));

    // Install hello by name and run it from the profile.
    w.ok(&["install", "hello"]);
    assert_eq!(w.installed(), ["hello-1.0"]);
    assert_eq!(w.enter(&["hello"]), "Hello, world!\n");
    assert_eq!(w.generations(), [(1, true)]);

    // Two more: greeter by attribute path (by name it would also match the tarball
    // greeter-1.0.tar.gz, whose system is not this one), multi with its three outputs.
    w.ok(&["install", "-A", "main.greeter"]);
    w.ok(&["install", "multi"]);
    assert_eq!(w.installed(), ["greeter-1.0", "hello-1.0", "multi-1.0"]);
    assert_eq!(w.enter(&["greet"]), "Greetings from a tarball!\n");
    let json: serde_json::Value = serde_json::from_str(&w.ok(&["list", "--json"])).unwrap();
    assert_eq!(json["multi-1.0"]["outputs"].as_object().unwrap().len(), 3);
    assert_eq!(json["hello-1.0"]["source"]["channel"], "main");
    let snapshot_1 = json["hello-1.0"]["source"]["path"].clone();
    assert!(json["hello-1.0"]["source"]["nar_hash"]
        .as_str()
        .unwrap()
        .starts_with("sha256-"));

    // The package set changes: hello 2.0. Nothing happens until the channel is updated.
    w.edit_channel("name = \"hello-1.0\";", "name = \"hello-2.0\";");
    w.edit_channel("echo \"Hello, world!\"", "echo \"Hello, world 2!\"");
    let out = w.run(&["upgrade", "--dry-run"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("upgrading"));
    w.ok(&["channel", "update"]);
    let available = w.ok(&["list", "-a"]);
    assert!(
        available.contains("main.hello") && available.contains("hello-2.0"),
        "{available}"
    );
    let out = w.run(&["upgrade", "--dry-run"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("upgrading 'hello-1.0' to 'hello-2.0'"));
    assert_eq!(w.current(), Some(3), "a dry run changes nothing");
    w.ok(&["upgrade"]);
    assert_eq!(w.installed(), ["greeter-1.0", "hello-2.0", "multi-1.0"]);
    assert_eq!(w.enter(&["hello"]), "Hello, world 2!\n");
    let json: serde_json::Value = serde_json::from_str(&w.ok(&["list", "--json"])).unwrap();
    assert_ne!(
        json["hello-2.0"]["source"]["path"], snapshot_1,
        "the generation records the new snapshot"
    );
    // Nothing newer: upgrade does nothing and makes no generation.
    w.ok(&["upgrade", "hello"]);
    assert_eq!(w.current(), Some(4));

    // Roll back: hello 1.0 again, from the old generation's closure.
    w.ok(&["rollback"]);
    assert_eq!(w.current(), Some(3));
    assert_eq!(w.enter(&["hello"]), "Hello, world!\n");
    w.ok(&["switch-generation", "4"]);
    assert_eq!(w.installed(), ["greeter-1.0", "hello-2.0", "multi-1.0"]);

    // Errors leave the profile as it was.
    let before = w.generations();
    let err = w.fails(&["install", "no-such-package"]);
    assert!(
        err.contains("'no-such-package' matches no derivations"),
        "{err}"
    );
    let err = w.fails(&["install", "-A", "main.nope"]);
    assert!(err.contains("main.nope"), "{err}");
    let err = w.fails(&["remove", "nothing-installed"]);
    assert!(err.contains("nothing-installed"), "{err}");
    let err = w.fails(&["switch-generation", "99"]);
    assert!(err.contains("generation 99 does not exist"), "{err}");
    w.add_packages(
        "    broken = mkDerivation { name = \"broken-1\"; script = \"echo failing on purpose; exit 3\"; };\n    \
         hello-clone = mkDerivation { name = \"hello-clone-1.0\"; script = ''\n      \
         mkdir -p $out/bin; printf '#!%s\\necho clone\\n' \"${tools}/bin/sh\" > $out/bin/hello; chmod +x $out/bin/hello\n    ''; };\n    \
         bad-meta = mkDerivation { name = \"bad-meta-1\"; script = \"mkdir $out\"; } // { meta.priority = throw \"no\"; };",
    );
    w.ok(&["channel", "update", "main"]);
    let err = w.fails(&["-Q", "install", "broken"]);
    assert!(err.contains("broken-1"), "{err}");
    let err = w.fails(&["install", "hello-clone"]);
    assert!(
        err.contains("'hello-2.0'")
            && err.contains("'hello-clone-1.0'")
            && err.contains("'bin/hello'"),
        "{err}"
    );
    assert_eq!(w.generations(), before);
    assert_eq!(w.installed(), ["greeter-1.0", "hello-2.0", "multi-1.0"]);

    // Priorities resolve the collision: a lower number wins.
    w.ok(&["set-priority", "10", "hello"]);
    w.ok(&["install", "hello-clone"]);
    assert_eq!(w.enter(&["hello"]), "clone\n");
    w.ok(&["remove", "hello-clone"]);
    assert_eq!(w.enter(&["hello"]), "Hello, world 2!\n");
    let json: serde_json::Value = serde_json::from_str(&w.ok(&["list", "--json"])).unwrap();
    assert_eq!(json["hello-2.0"]["priority"], 10);
    // A meta attribute that fails to evaluate is left out, as nix-env leaves it out.
    w.ok(&["install", "bad-meta"]);
    w.ok(&["remove", "bad-meta"]);

    // Install from a file.
    let file = w.dir().join("extra.nix");
    std::fs::write(
        &file,
        format!("(import {}/default.nix {{}}).combined", chan.display()),
    )
    .unwrap();
    // combined's bin/greet links to greeter's: still a conflict at one priority, as
    // CppNix's buildenv has it; a priority settles it.
    let err = w.fails(&["install", "-f", file.to_str().unwrap(), "combined"]);
    assert!(
        err.contains("'greeter-1.0'")
            && err.contains("'combined-1.0'")
            && err.contains("'bin/greet'"),
        "{err}"
    );
    w.ok(&["set-priority", "7", "greeter"]);
    w.ok(&["install", "-f", file.to_str().unwrap(), "combined"]);
    assert!(w.installed().contains(&"combined-1.0".to_owned()));

    // GC keeps every generation's closure; deleting generations lets it collect them.
    let gens = w.generations();
    assert!(gens.len() >= 10, "{gens:?}");
    let gc = w.ok(&["gc"]);
    assert!(gc.contains("store paths deleted"), "{gc}");
    generations_intact(&w);
    w.ok(&["rollback"]);
    w.ok(&["switch-generation", "3"]);
    assert_eq!(w.enter(&["hello"]), "Hello, world!\n");
    // `+2` counts from the current generation (3): 2 and 3 stay, and all newer ones.
    w.ok(&["delete-generations", "+2"]);
    let left: Vec<u64> = w.generations().iter().map(|g| g.0).collect();
    let last = gens.last().unwrap().0;
    assert_eq!(left, (2..=last).collect::<Vec<_>>());
    let gc = w.ok(&["gc"]);
    let deleted: usize = gc.split_whitespace().next().unwrap().parse().unwrap();
    assert!(deleted > 0, "{gc}");
    generations_intact(&w);
    assert_eq!(w.enter(&["hello"]), "Hello, world!\n");
    w.ok(&["delete-generations", "old"]);
    assert_eq!(w.generations(), [(3, true)]);
    w.ok(&["gc", "--delete-older-than", "30d"]);
    generations_intact(&w);
    assert_eq!(w.enter(&["greet"]), "Greetings from a tarball!\n");
    let err = w.fails(&["delete-generations", "sometimes"]);
    assert!(err.contains("invalid generation specification"), "{err}");
    assert!(Path::new(&w.profile()).is_symlink());

    // Channels: a tarball works as a package set; removing a channel forgets it.
    let tarball = w.dir().join("set.tar.gz");
    let ok = std::process::Command::new("tar")
        .arg("czf")
        .arg(&tarball)
        .arg("-C")
        .arg(w.dir())
        .arg("chan")
        .status()
        .unwrap();
    assert!(ok.success());
    w.ok(&["channel", "add", "packed", tarball.to_str().unwrap()]);
    assert!(w.ok(&["list", "-a"]).contains("packed.hello"));
    w.ok(&["channel", "remove", "packed"]);
    assert!(!w.ok(&["list", "-a"]).contains("packed.hello"));
    let err = w.fails(&["channel", "add", "bad", w.dir().to_str().unwrap()]);
    assert!(err.contains("not a package set"), "{err}");
}

#[test]
fn a_malformed_package_set_is_a_clear_error_and_changes_nothing() {
    let w = World::new();
    let err = w.fails(&["install", "hello"]);
    assert!(err.contains("no package set"), "{err}");
    std::fs::write(w.channel().join("default.nix"), "{ hello = ; }").unwrap();
    w.ok(&["channel", "add", "main", w.channel().to_str().unwrap()]);
    let err = w.fails(&["install", "hello"]);
    assert!(
        err.contains("syntax error") && err.contains("default.nix"),
        "{err}"
    );
    let err = w.fails(&["list", "-a"]);
    assert!(err.contains("syntax error"), "{err}");
    std::fs::write(w.channel().join("default.nix"), "{ hello = 1; }").unwrap();
    w.ok(&["channel", "update"]);
    let err = w.fails(&["install", "hello"]);
    assert!(err.contains("'hello' matches no derivations"), "{err}");
    let err = w.fails(&["install", "-A", "main.hello"]);
    assert!(
        err.contains("evaluating main.hello: expression does not evaluate to a derivation"),
        "{err}"
    );
    assert!(w.generations().is_empty());
    assert!(w.installed().is_empty());
    std::fs::write(w.dir().join("state/channels.json"), "[ {").unwrap();
    let err = w.fails(&["channel", "list"]);
    assert!(
        err.contains("channels.json") && err.contains("malformed"),
        "{err}"
    );
}
