//! osconf's option modules: a sample configuration.nix evaluated through
//! `eval-config.nix` and its resulting config checked (users with uids allocated stably
//! from a previous allocation, groups, services, /etc files, file systems), uid
//! allocation across generations, and the errors of bad configurations (failed
//! assertion, wrong type, undeclared option) naming the option and the file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use nixkit_osconf::eval_config_json;
use serde_json::Value;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/configuration.nix")
}

fn eval(file: &Path) -> Value {
    let out = eval_config_json(file).unwrap_or_else(|e| panic!("{} failed:\n{e}", file.display()));
    serde_json::from_str(&out).expect("JSON")
}

fn eval_err(dir: &Path, text: &str) -> (PathBuf, String) {
    let file = dir.join("configuration.nix");
    std::fs::write(&file, text).expect("write configuration");
    match eval_config_json(&file) {
        Ok(v) => panic!("configuration evaluated: {v}"),
        Err(e) => (file, e.to_string()),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = cur.get(p).unwrap_or_else(|| panic!("no {p} in {path:?}"));
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string: {cur}"))
}

fn ids(v: &Value, which: &str) -> BTreeMap<String, i64> {
    v["system"]["build"]["users"][which]
        .as_object()
        .expect("id map")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_i64().expect("id")))
        .collect()
}

#[test]
fn sample_configuration() {
    let c = eval(&sample());
    assert_eq!(c["networking"]["hostName"], "webhost");
    assert_eq!(c["time"]["timeZone"], "Europe/Amsterdam");

    // Users: defaults of normal users, ids kept from the previous allocation, fresh ones
    // skipping the ids of deleted users.
    let alice = &c["users"]["users"]["alice"];
    assert_eq!(alice["home"], "/home/alice");
    assert_eq!(alice["group"], "users");
    assert_eq!(alice["createHome"], true);
    let uids = ids(&c, "uids");
    assert_eq!(uids["bob"], 1003, "kept from previousIds");
    assert_eq!(uids["alice"], 1001, "1000 is carol's, never reused");
    assert_eq!(uids["root"], 0);
    assert_eq!(uids["nobody"], 65534);
    assert!(uids["deploy"] < 1000 && uids["httpd"] < 1000 && uids["deploy"] != uids["httpd"]);
    let gids = ids(&c, "gids");
    let users = &c["system"]["build"]["users"];
    let passwd = users["passwd"].as_str().unwrap();
    assert!(
        passwd.contains(
            "alice:x:1001:100:Alice:/home/alice:/run/current-system/sw/bin/sh
"
        ),
        "{passwd}"
    );
    assert!(
        passwd.contains("bob:x:1003:100::/home/bob:/bin/ash\n"),
        "{passwd}"
    );
    assert!(
        passwd.contains(&format!(
            "deploy:x:{}:{}::/var/lib/deploy:",
            uids["deploy"], gids["web"]
        )),
        "{passwd}"
    );
    let group = users["group"].as_str().unwrap();
    assert!(group.contains("wheel:x:1:alice\n"), "{group}");
    assert!(
        group.contains(&format!("web:x:{}:bob,alice\n", gids["web"])),
        "{group}"
    );
    let shadow = users["shadow"].as_str().unwrap();
    assert!(
        shadow.contains("bob:$6$salt$hash:") && shadow.contains("alice:!:"),
        "{shadow}"
    );
    let homes: BTreeSet<&str> = users["homes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["home"].as_str().unwrap())
        .collect();
    assert_eq!(
        homes,
        BTreeSet::from(["/home/alice", "/home/bob", "/root", "/var/lib/deploy"])
    );

    // Services: httpd's generated entry, its system user, dependencies.
    let services = &c["system"]["build"]["services"];
    let httpd = str_at(services, &["httpd", "command"]);
    assert!(
        httpd.contains("/bin/httpd -f -p 8080 -h /nix/store/") && httpd.ends_with("-index.html"),
        "{httpd}"
    );
    assert_eq!(services["httpd"]["user"], "httpd");
    assert!(c["users"]["users"]["httpd"]["isSystemUser"]
        .as_bool()
        .unwrap());
    assert!(str_at(services, &["cron", "command"]).contains("/bin/crond -f"));
    assert_eq!(
        services["ticker"]["after"],
        serde_json::json!(["httpd", "cron"])
    );
    assert_eq!(services["ticker"]["environment"]["TZ"], "Europe/Amsterdam");
    assert_eq!(services.as_object().unwrap().len(), 3);

    // /etc: generated and declared files.
    let etc = &c["environment"]["etc"];
    assert_eq!(etc["motd"]["text"], "Welcome to webhost.\nBe nice.");
    assert_eq!(etc["hostname"]["text"], "webhost\n");
    assert_eq!(etc["crontabs/root"]["text"], "*/5 * * * * date\n");
    assert_eq!(
        etc["fstab"]["text"],
        "/dev/vda1 / ext4 defaults 0 1\nLABEL=data /srv xfs noatime 0 2\n"
    );
    let built = &c["system"]["build"]["etc"];
    assert_eq!(built["app/settings.conf"]["mode"], "0640");
    assert!(str_at(built, &["motd", "source"]).starts_with("/nix/store/"));
    let packages = c["environment"]["systemPackages"].as_array().unwrap();
    // The declared packages, then the core packages (the shell, the basic tools).
    assert!(
        packages.len() == 3
            && packages[0].as_str().unwrap().ends_with("-hello-1.0")
            && packages[2].as_str().unwrap().ends_with("-busybox-tools"),
        "{packages:?}"
    );
}

/// Generation after generation, a user keeps its uid, a new user never gets the uid of
/// a deleted one, and ids are unique and in their ranges.
#[test]
fn uid_allocation_is_stable_across_generations() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut previous: BTreeMap<String, i64> = BTreeMap::new();
    let mut ever: BTreeMap<String, i64> = BTreeMap::new();
    for generation in 0..4 {
        // Each generation drops some users and adds others, normal and system ones.
        let names: Vec<String> = (0..12)
            .filter(|i| (i + generation) % 4 != 0)
            .map(|i| format!("u{}", i * 3 + generation))
            .collect();
        let mut text = String::from("{ ... }: {\n");
        for (k, n) in names.iter().enumerate() {
            let kind = if k % 3 == 0 {
                "isSystemUser = true; group = \"nogroup\";"
            } else {
                "isNormalUser = true;"
            };
            text.push_str(&format!("  users.users.{n} = {{ {kind} }};\n"));
        }
        text.push_str("  users.previousIds.uids = {");
        for (n, id) in &previous {
            text.push_str(&format!(" {n} = {id};"));
        }
        text.push_str(" };\n}\n");
        let file = dir.path().join(format!("gen{generation}.nix"));
        std::fs::write(&file, &text).unwrap();
        let uids = ids(&eval(&file), "uids");
        let mut seen = BTreeSet::new();
        for (k, n) in names.iter().enumerate() {
            let uid = uids[n];
            assert!(
                seen.insert(uid),
                "uid {uid} given twice in generation {generation}"
            );
            if let Some(old) = ever.get(n) {
                assert_eq!(uid, *old, "{n} changed uid in generation {generation}");
            } else {
                assert!(
                    !ever.values().any(|&u| u == uid),
                    "{n} got a used uid {uid}"
                );
            }
            if k % 3 == 0 {
                assert!((400..1000).contains(&uid), "system user {n}: {uid}");
            } else {
                assert!(uid >= 1000, "normal user {n}: {uid}");
            }
            ever.insert(n.clone(), uid);
        }
        // The target's id map keeps every id ever allocated.
        previous = ever.clone();
    }
}

#[test]
fn failed_assertions_are_listed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (file, err) = eval_err(
        dir.path(),
        "{ ... }: {\n users.users.eve = { isNormalUser = true; extraGroups = [ \"nope\" ]; };\n services.x = { command = \"/bin/true\"; wants = [ \"y\" ]; }; }",
    );
    // Each message names where the entry it is about is defined.
    for line in [2, 3] {
        assert!(
            err.contains(&format!(" (defined in {}:{line})\n", file.display())),
            "{err}"
        );
    }
    assert!(err.contains("Failed assertions:\n"), "{err}");
    assert!(
        err.contains(
            "- users.users.eve.extraGroups: group `nope' is not declared in users.groups."
        ),
        "{err}"
    );
    assert!(
        err.contains("- services.x.wants: service `y' is not enabled."),
        "{err}"
    );
}

#[test]
fn wrong_type_names_option_file_and_line() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (file, err) = eval_err(dir.path(), "{ ... }:\n{\n  networking.hostName = 5;\n}\n");
    assert!(
        err.contains("A definition for option `networking.hostName' is not of type `string'."),
        "{err}"
    );
    assert!(
        err.contains(&format!("- In `{}:3:3': 5", file.display())),
        "{err}"
    );
    let (_, err) = eval_err(
        dir.path(),
        "{ ... }: { users.users.x = { isNormalUser = true; uid = \"1\"; }; }",
    );
    assert!(
        err.contains(
            "A definition for option `users.users.x.uid' is not of type `null or signed integer'."
        ),
        "{err}"
    );
}

#[test]
fn undeclared_option_names_option_and_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (file, err) = eval_err(
        dir.path(),
        "{ ... }:\n{\n  services.httpd.enable = true;\n  services.httpd.prot = 80;\n}\n",
    );
    assert!(
        err.contains("The option `services.httpd.prot' does not exist. Definition values:"),
        "{err}"
    );
    assert!(
        err.contains(&format!("- In `{}:4:", file.display())),
        "{err}"
    );
    // A service's own options exist only on that service.
    let (_, err) = eval_err(
        dir.path(),
        "{ ... }: { services.web = { command = \"/bin/true\"; port = 80; }; }",
    );
    assert!(
        err.contains("The option `services.web.port' does not exist."),
        "{err}"
    );
}
