//! The daemon's substituters, through nixkit's worker-protocol client in one process, with
//! real caches of each kind (`nixkit serve` over HTTP and `file://` directories), one of each
//! announcing `WantMassQuery: 1` and one not: the mass query (`QuerySubstitutablePaths`,
//! `HasSubstitutes`) asks only the former, path infos and substitution (`EnsurePath`,
//! `BuildPaths`, `QueryMissing`) use all; a client's `narinfo-cache-negative-ttl` reaches the
//! daemon's HTTP cache (a remembered "absent" answer is asked again with 0), also from an
//! untrusted client, whose `substituters` are ignored.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nixkit_daemon::{Daemon, DaemonSettings, TrustSettings};
use nixkit_protocol::worker::client::WorkerClient;
use nixkit_protocol::worker::types::{BuildMode, ClientSettings, DerivedPath};
use nixkit_protocol::Limits;
use nixkit_serve::{ServeConfig, Server};
use nixkit_store::binary_cache::{Compression, FileCache};
use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::{StoreDir, StorePath};

type Client = WorkerClient<UnixStream, UnixStream>;

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreConfig::new(root, StoreDir::default())).unwrap()
}

fn text(store: &LocalStore, name: &str) -> StorePath {
    store
        .add_text_to_store(
            name,
            format!("contents of {name}").as_bytes(),
            &BTreeSet::new(),
        )
        .unwrap()
}

/// `nixkit serve` of the store at `root`, announcing `mass` as `WantMassQuery`.
fn serve(root: &Path, mass: bool) -> String {
    let mut config = ServeConfig::new(StoreConfig::new(root, StoreDir::default()));
    config.want_mass_query = mass;
    let addr = Server::bind("127.0.0.1:0", config)
        .unwrap()
        .spawn()
        .unwrap();
    format!("http://{addr}")
}

/// A `file://` cache at `dir` holding `path` (from `store`), announcing `mass`.
fn file_cache(dir: &Path, store: &LocalStore, path: &StorePath, mass: bool) -> String {
    let cache = FileCache::new(dir.to_str().unwrap(), StoreDir::default()).unwrap();
    cache
        .copy_closure(
            store,
            &BTreeSet::from([path.clone()]),
            Compression::Zstd,
            None,
        )
        .unwrap();
    std::fs::write(
        dir.join("nix-cache-info"),
        format!("StoreDir: /nix/store\nWantMassQuery: {}\n", u8::from(mass)),
    )
    .unwrap();
    format!("file://{}", dir.display())
}

fn start(dir: &Path, urls: Vec<String>, trust: TrustSettings) -> PathBuf {
    let socket = dir.join(format!("daemon{}.sock", urls.len()));
    let mut settings = DaemonSettings::new(StoreConfig::new(
        dir.join("daemon-root"),
        StoreDir::default(),
    ));
    settings.trust = trust;
    settings.require_sigs = false;
    settings.substitution.urls = urls;
    settings.substitution.narinfo.file = Some(dir.join("narinfo-cache.sqlite"));
    let daemon: Arc<Daemon> = Daemon::new(settings);
    let listener = Daemon::bind(&socket).unwrap();
    std::thread::spawn(move || daemon.run(&listener, |_, _| {}));
    socket
}

fn connect(socket: &Path, overrides: &[(&str, &str)]) -> Client {
    let s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut c = WorkerClient::connect(
        s.try_clone().unwrap(),
        s,
        StoreDir::default(),
        Limits::default(),
    )
    .unwrap();
    let settings = ClientSettings {
        overrides: overrides
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        ..ClientSettings::default()
    };
    c.set_options(&settings).unwrap();
    c
}

#[test]
fn mass_queries_skip_caches_that_do_not_want_them() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |s: &str| tmp.path().join(s);
    let http_mass = open(&t("http-mass"));
    let a = text(&http_mass, "a");
    let http_single = open(&t("http-single"));
    let b = text(&http_single, "b");
    let src = open(&t("src"));
    let c = text(&src, "c");
    let d = text(&src, "d");
    let nowhere = text(&open(&t("elsewhere")), "nowhere");
    let urls = vec![
        serve(&t("http-mass"), true),
        serve(&t("http-single"), false),
        file_cache(&t("file-mass"), &src, &c, true),
        file_cache(&t("file-single"), &src, &d, false),
    ];
    let socket = start(tmp.path(), urls, TrustSettings::default());
    let mut client = connect(&socket, &[]);
    let all = BTreeSet::from([a.clone(), b.clone(), c.clone(), d.clone(), nowhere.clone()]);

    // The mass query: only the caches with `WantMassQuery: 1`.
    assert_eq!(
        client.query_substitutable_paths(&all).unwrap(),
        BTreeSet::from([a.clone(), c.clone()])
    );
    assert!(client.has_substitutes(&a).unwrap());
    assert!(client.has_substitutes(&c).unwrap());
    assert!(!client.has_substitutes(&b).unwrap());
    assert!(!client.has_substitutes(&d).unwrap());

    // Infos: every cache.
    let asked: Vec<(StorePath, String)> = all.iter().map(|p| (p.clone(), String::new())).collect();
    let infos = client.query_substitutable_path_infos(&asked).unwrap();
    let got: BTreeSet<StorePath> = infos.iter().map(|i| i.path.clone()).collect();
    assert_eq!(
        got,
        BTreeSet::from([a.clone(), b.clone(), c.clone(), d.clone()])
    );
    assert!(infos.iter().all(|i| i.nar_size > 0));
    let missing = client
        .query_missing(&[
            DerivedPath::Opaque(b.clone()),
            DerivedPath::Opaque(nowhere.clone()),
        ])
        .unwrap();
    assert_eq!(missing.will_substitute, BTreeSet::from([b.clone()]));
    assert_eq!(missing.unknown, BTreeSet::from([nowhere.clone()]));

    // Substitution of single paths uses every cache.
    client.ensure_path(&b).unwrap();
    client.ensure_path(&d).unwrap();
    client
        .build_paths(&[DerivedPath::Opaque(a.clone())], BuildMode::Normal)
        .unwrap();
    for p in [&a, &b, &d] {
        assert!(client.is_valid_path(p).unwrap());
    }
    assert!(!client.is_valid_path(&c).unwrap());
    assert!(client.ensure_path(&nowhere).is_err());

    // `use-substitutes = false`: nothing is substitutable.
    let settings = ClientSettings {
        use_substitutes: false,
        ..ClientSettings::default()
    };
    client.set_options(&settings).unwrap();
    assert!(client.query_substitutable_paths(&all).unwrap().is_empty());
    assert!(client.ensure_path(&c).is_err());
}

#[test]
fn clients_narinfo_cache_ttls_reach_the_daemons_caches() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |s: &str| tmp.path().join(s);
    let served = open(&t("served"));
    let url = serve(&t("served"), true);
    let late = text(&open(&t("elsewhere")), "late");
    for (trust, name) in [
        (TrustSettings::default(), "trusted"),
        (
            TrustSettings {
                allowed_users: vec!["*".into()],
                trusted_users: vec![],
            },
            "untrusted",
        ),
    ] {
        let dir = t(name);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = start(&dir, vec![url.clone()], trust);
        let path = text(&open(&t(&format!("src-{name}"))), &format!("late-{name}"));
        // Not in the cache yet: the daemon remembers the answer (for an hour by default).
        let mut first = connect(&socket, &[]);
        assert!(first.ensure_path(&path).is_err());
        text(&served, &format!("late-{name}"));
        // A new connection: the remembered answer still holds, from the file.
        let mut second = connect(&socket, &[]);
        assert!(second.ensure_path(&path).is_err(), "{name}");
        assert!(second
            .query_substitutable_paths(&BTreeSet::from([path.clone()]))
            .unwrap()
            .is_empty());
        // The client's `narinfo-cache-negative-ttl = 0`: asked again, and substituted. A
        // client's `substituters` pointing elsewhere are ignored unless it is trusted (and
        // here they add nothing for a trusted one).
        let mut third = connect(
            &socket,
            &[
                ("narinfo-cache-negative-ttl", "0"),
                ("extra-substituters", "file:///nonexistent"),
            ],
        );
        assert_eq!(
            third
                .query_substitutable_paths(&BTreeSet::from([path.clone(), late.clone()]))
                .unwrap(),
            BTreeSet::from([path.clone()]),
            "{name}"
        );
        third.ensure_path(&path).unwrap();
        assert!(third.is_valid_path(&path).unwrap());
    }
}
