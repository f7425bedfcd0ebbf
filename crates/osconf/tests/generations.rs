//! The system profile of a target root (generations made, listed, switched, rolled back
//! and deleted through `nixkit_store::profiles`) and the id map that carries uid and gid
//! allocations from one generation's evaluation to the next.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

use std::collections::BTreeMap;

use nixkit_osconf::eval_config_json_with;
use nixkit_osconf::generations::{IdMap, IdMapError, SystemProfile};
use nixkit_store::profiles::ProfileError;

#[test]
fn generations_are_added_switched_and_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let sys = |n: u32| {
        let p = tmp.path().join(format!("system-{n}"));
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    let (s1, s2, s3) = (sys(1), sys(2), sys(3));
    let profile = SystemProfile::new(&root);
    assert!(profile.generations().unwrap().is_empty());
    assert_eq!(profile.add(&s1).unwrap(), 1);
    assert_eq!(
        profile.add(&s1).unwrap(),
        1,
        "an unchanged system makes no generation"
    );
    assert_eq!(profile.add(&s2).unwrap(), 2);
    assert_eq!(profile.add(&s3).unwrap(), 3);
    let gens = profile.generations().unwrap();
    let summary: Vec<(u64, bool)> = gens.iter().map(|g| (g.number, g.current)).collect();
    assert_eq!(summary, [(1, false), (2, false), (3, true)]);
    assert_eq!(gens[1].system, s2);
    assert_eq!(
        std::fs::read_link(profile.profile_path()).unwrap(),
        std::path::Path::new("system-3-link")
    );

    assert_eq!(profile.rollback().unwrap(), 2);
    assert_eq!(profile.rollback().unwrap(), 1);
    assert!(matches!(
        profile.rollback(),
        Err(ProfileError::NoOlderGeneration(1))
    ));
    profile.switch_to(3).unwrap();
    assert!(matches!(
        profile.switch_to(9),
        Err(ProfileError::NoSuchGeneration(9))
    ));
    assert!(matches!(
        profile.delete(3),
        Err(ProfileError::DeleteCurrent(_))
    ));
    profile.delete(1).unwrap();
    let left: Vec<u64> = profile
        .generations()
        .unwrap()
        .iter()
        .map(|g| g.number)
        .collect();
    assert_eq!(left, [2, 3]);
    // A new generation after deletions continues the numbering.
    assert_eq!(profile.add(&s1).unwrap(), 4);
}

#[test]
fn id_map_is_read_from_the_target() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = SystemProfile::new(tmp.path());
    assert_eq!(profile.id_map().unwrap(), IdMap::default(), "no map yet");
    std::fs::create_dir_all(profile.id_map_path().parent().unwrap()).unwrap();
    std::fs::write(
        profile.id_map_path(),
        r#"{"uids":{"alice":1000},"gids":{"web":999}}"#,
    )
    .unwrap();
    let map = profile.id_map().unwrap();
    assert_eq!(map.uids["alice"], 1000);
    assert_eq!(map.gids["web"], 999);
    std::fs::write(profile.id_map_path(), r#"{"uids":{"alice":"x"}}"#).unwrap();
    match profile.id_map() {
        Err(e @ IdMapError::Parse { .. }) => {
            assert!(e.to_string().contains("ids.json"), "{e}")
        }
        other => panic!("bad map read as {other:?}"),
    }
}

/// Evaluating with the id map of the previous generation keeps ids; the map written for
/// the next generation still holds the ids of deleted users.
#[test]
fn id_map_carries_allocations_to_the_next_evaluation() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("configuration.nix");
    let eval = |users: &[&str], map: &IdMap| -> (BTreeMap<String, u32>, IdMap) {
        let body: String = users
            .iter()
            .map(|u| format!("users.users.{u}.isNormalUser = true; "))
            .collect();
        std::fs::write(&config, format!("{{ ... }}: {{ {body} }}")).unwrap();
        let out = eval_config_json_with(&config, &[map.to_module()]).unwrap();
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        let users = &json["system"]["build"]["users"];
        (
            serde_json::from_value(users["uids"].clone()).unwrap(),
            serde_json::from_value(users["idMap"].clone()).unwrap(),
        )
    };
    let (uids1, map1) = eval(&["alice", "bob", "carol"], &IdMap::default());
    assert_eq!(
        (uids1["alice"], uids1["bob"], uids1["carol"]),
        (1000, 1001, 1002)
    );
    let (uids2, map2) = eval(&["carol", "dave"], &map1);
    assert_eq!(uids2["carol"], 1002);
    assert_eq!(uids2["dave"], 1003, "1000 and 1001 stay reserved");
    assert_eq!(
        map2.uids["bob"], 1001,
        "the deleted user's id is kept in the map"
    );
    let (uids3, _) = eval(&["bob", "erin"], &map2);
    assert_eq!(uids3["bob"], 1001, "a user coming back gets its old uid");
    assert_eq!(uids3["erin"], 1004);
}
