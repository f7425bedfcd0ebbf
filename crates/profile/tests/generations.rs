//! `delete-generations` specifications as nix-env reads them: `Nd` keeps the newest
//! generation older than the cutoff (it was current then), `+N` keeps the current one, the
//! N-1 before it and any newer, `old`
//! all but the current, numbers those; the current generation always stays; bad input is
//! an error that deletes nothing.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, SystemTime};

use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nixkit_profile::{GenerationError, Manager};
use nixkit_store::local::StoreConfig;
use nixkit_store::profiles;
use nixkit_store::StoreDir;

fn age(link: &std::path::Path, days: u64) {
    let t = SystemTime::now() - Duration::from_secs(days * 86_400);
    let ts = TimeSpec::from(t.duration_since(SystemTime::UNIX_EPOCH).unwrap());
    utimensat(None, link, &ts, &ts, UtimensatFlags::NoFollowSymlink).unwrap();
}

fn numbers(m: &Manager) -> (Vec<u64>, Option<u64>) {
    let (gens, current) = m.generations().unwrap();
    (gens.iter().map(|g| g.number).collect(), current)
}

#[test]
fn generation_specifications_delete_what_nix_env_deletes() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("p");
    let m = Manager::new(
        StoreConfig::new(tmp.path().join("store"), StoreDir::default()),
        profile.clone(),
    );
    for (i, days) in [40, 35, 10, 1, 0].into_iter().enumerate() {
        let target = format!("/nix/store/{}-env", "a".repeat(31) + &i.to_string());
        let n = profiles::create_generation(&profile, target.as_ref()).unwrap();
        age(&tmp.path().join(format!("p-{n}-link")), days);
    }
    assert_eq!(numbers(&m), (vec![1, 2, 3, 4, 5], Some(5)));

    assert!(matches!(
        m.delete_generations(&["soon".into()]),
        Err(GenerationError::BadSpec(_))
    ));
    assert!(m.delete_generations(&["9".into()]).is_err());
    assert_eq!(numbers(&m).0, [1, 2, 3, 4, 5], "errors delete nothing");

    // Older than 30 days: 1 and 2; 2 was current at the cutoff, so it stays.
    assert_eq!(m.delete_generations(&["30d".into()]).unwrap(), [1]);
    // `+N` counts back from the current generation; newer ones stay too.
    m.switch_generation(3).unwrap();
    assert!(m.delete_generations(&["+0".into()]).is_err());
    assert_eq!(m.delete_generations(&["+1".into()]).unwrap(), [2]);
    assert_eq!(numbers(&m), (vec![3, 4, 5], Some(3)));
    m.switch_generation(5).unwrap();
    assert_eq!(m.delete_generations(&["+2".into()]).unwrap(), [3]);
    // The current one is never deleted.
    m.switch_generation(4).unwrap();
    assert_eq!(
        m.delete_generations(&["4".into()]).unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(m.delete_generations(&["old".into()]).unwrap(), [5]);
    assert_eq!(numbers(&m), (vec![4], Some(4)));
    assert!(matches!(m.rollback(), Err(GenerationError::Profile(_))));
}
