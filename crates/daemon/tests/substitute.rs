//! The daemon's substituters, through nixkit's worker-protocol client in one process, with
//! real caches of each kind (`nixkit serve` over HTTP and `file://` directories), one of each
//! announcing `WantMassQuery: 1` and one not: the mass query (`QuerySubstitutablePaths`,
//! `HasSubstitutes`) asks only the former, path infos and substitution (`EnsurePath`,
//! `BuildPaths`, `QueryMissing`) use all; a client's `narinfo-cache-negative-ttl` reaches the
//! daemon's HTTP cache (a remembered "absent" answer is asked again with 0), also from an
//! untrusted client, whose `substituters` are ignored. A trusted client's
//! `trusted-public-keys`, `extra-trusted-public-keys` and `require-sigs` decide which
//! substitutes its connection accepts (an untrusted client's are ignored, a bad value is a
//! warning); `QueryValidPaths` with its substitute flag substitutes what a cache has.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nixkit_daemon::{Daemon, DaemonSettings, TrustSettings};
use nixkit_protocol::worker::client::WorkerClient;
use nixkit_protocol::worker::stderr::StderrMsg;
use nixkit_protocol::worker::types::{BuildMode, ClientSettings, DerivedPath};
use nixkit_protocol::Limits;
use nixkit_serve::{ServeConfig, Server};
use nixkit_store::binary_cache::{Compression, FileCache, PublicKey, SecretKey};
use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::{Hash, HashAlgo, PathInfo, StoreDir, StorePath};

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

/// An input-addressed path (no content address, so substituting it needs a trusted
/// signature unless signatures are not required) added to `store`.
fn input_addressed(store: &LocalStore, name: &str) -> StorePath {
    let mut nar = Vec::new();
    nixkit_store::nar::write_flat_file_nar(format!("built {name}").as_bytes(), false, &mut nar)
        .unwrap();
    let digest = |b: &[u8]| Hash::digest(HashAlgo::Sha256, b);
    let path = StoreDir::default()
        .make_store_path("output:out", &digest(name.as_bytes()), name)
        .unwrap();
    let info = PathInfo::new(path.clone(), digest(&nar), nar.len() as u64);
    store.add_nar(&info, &mut nar.as_slice()).unwrap();
    path
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
    signed_file_cache(dir, store, &BTreeSet::from([path.clone()]), mass, None)
}

/// A `file://` cache at `dir` holding the closure of `paths`, signed with `key` if given.
fn signed_file_cache(
    dir: &Path,
    store: &LocalStore,
    paths: &BTreeSet<StorePath>,
    mass: bool,
    key: Option<&SecretKey>,
) -> String {
    let cache = FileCache::new(dir.to_str().unwrap(), StoreDir::default()).unwrap();
    cache
        .copy_closure(store, paths, Compression::Zstd, key)
        .unwrap();
    std::fs::write(
        dir.join("nix-cache-info"),
        format!("StoreDir: /nix/store\nWantMassQuery: {}\n", u8::from(mass)),
    )
    .unwrap();
    format!("file://{}", dir.display())
}

fn start(dir: &Path, urls: Vec<String>, trust: TrustSettings) -> PathBuf {
    start_with(dir, urls, trust, Vec::new(), false)
}

/// A daemon in `dir` substituting from `urls`, accepting substitutes signed by `keys`
/// (any, without `require_sigs`).
fn start_with(
    dir: &Path,
    urls: Vec<String>,
    trust: TrustSettings,
    keys: Vec<PublicKey>,
    require_sigs: bool,
) -> PathBuf {
    let socket = dir.join(format!("daemon{}.sock", urls.len()));
    let mut settings = DaemonSettings::new(StoreConfig::new(
        dir.join("daemon-root"),
        StoreDir::default(),
    ));
    settings.trust = trust;
    settings.trusted_public_keys = keys;
    settings.require_sigs = require_sigs;
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
    c.set_options(&client_settings(overrides)).unwrap();
    c
}

/// A client's `SetOptions` with these overrides.
fn client_settings(overrides: &[(&str, &str)]) -> ClientSettings {
    ClientSettings {
        overrides: overrides
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        ..ClientSettings::default()
    }
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

/// Everyone may connect; everyone (`trusted`) or no one is trusted.
fn trusting(trusted: bool) -> TrustSettings {
    TrustSettings {
        allowed_users: vec!["*".into()],
        trusted_users: if trusted { vec!["*".into()] } else { vec![] },
    }
}

/// [`connect`], keeping the log lines the daemon sends.
fn connect_logged(socket: &Path, overrides: &[(&str, &str)]) -> (Client, Arc<Mutex<Vec<String>>>) {
    let mut client = connect(socket, &[]);
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    client.set_logger(Box::new(move |m: &StderrMsg| {
        if let StderrMsg::Next(text) = m {
            sink.lock().unwrap().push(text.clone());
        }
    }));
    client.set_options(&client_settings(overrides)).unwrap();
    (client, lines)
}

fn warnings(lines: &Mutex<Vec<String>>) -> Vec<String> {
    let lines = lines.lock().unwrap();
    lines
        .iter()
        .filter(|l| l.starts_with("warning:"))
        .cloned()
        .collect()
}

#[test]
fn trusted_clients_signature_settings_decide_what_is_substituted() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |s: &str| tmp.path().join(s);
    let cache_key = SecretKey::generate("cache.example-1").unwrap();
    let daemon_key = SecretKey::generate("daemon.example-1").unwrap();
    let src = open(&t("src"));
    // Per client kind, a path of its own in each cache (what one substitutes stays valid).
    let kinds = ["untrusted", "trusted"];
    let signed: Vec<Vec<StorePath>> = kinds
        .iter()
        .map(|k| {
            (0..4)
                .map(|i| input_addressed(&src, &format!("signed-{k}-{i}")))
                .collect()
        })
        .collect();
    let unsigned: Vec<StorePath> = kinds
        .iter()
        .map(|k| input_addressed(&src, &format!("unsigned-{k}")))
        .collect();
    let all_signed: BTreeSet<StorePath> = signed.iter().flatten().cloned().collect();
    let urls = vec![
        signed_file_cache(&t("signed"), &src, &all_signed, true, Some(&cache_key)),
        signed_file_cache(
            &t("unsigned"),
            &src,
            &unsigned.iter().cloned().collect(),
            true,
            None,
        ),
    ];
    let cache_pub = cache_key.public_key().to_text();
    let daemon_pub = daemon_key.public_key().to_text();
    for (i, kind) in kinds.iter().enumerate() {
        let trusted = *kind == "trusted";
        let dir = t(kind);
        std::fs::create_dir_all(&dir).unwrap();
        // The daemon trusts only its own key and requires signatures.
        let socket = start_with(
            &dir,
            urls.clone(),
            trusting(trusted),
            vec![daemon_key.public_key()],
            true,
        );
        let [by_keys, by_extra, after_bad, by_query] = &signed[i][..] else {
            unreachable!()
        };
        // Without the client's settings: the cache's signatures are not trusted.
        let mut plain = connect(&socket, &[]);
        let err = plain.ensure_path(by_keys).unwrap_err().to_string();
        assert!(
            err.contains("lacks a signature by a trusted key"),
            "{kind}: {err}"
        );
        assert!(plain.ensure_path(&unsigned[i]).is_err(), "{kind}");

        let (mut client, log) = connect_logged(&socket, &[("trusted-public-keys", &cache_pub)]);
        let restricted = warnings(&log)
            .iter()
            .any(|w| w.contains("'trusted-public-keys'") && w.contains("not a trusted user"));
        assert_eq!(restricted, !trusted, "{kind}: {:?}", warnings(&log));
        assert_eq!(client.ensure_path(by_keys).is_ok(), trusted, "{kind}");
        assert_eq!(client.is_valid_path(by_keys).unwrap(), trusted, "{kind}");
        // The client's own keys replaced the daemon's: a path the daemon's key signed
        // would not do, but the unsigned one is still refused.
        assert!(client.ensure_path(&unsigned[i]).is_err(), "{kind}");

        // `extra-trusted-public-keys` adds to the daemon's keys.
        let keys = format!("{daemon_pub} {cache_pub}");
        let (mut client, _) = connect_logged(&socket, &[("extra-trusted-public-keys", &keys)]);
        assert_eq!(client.ensure_path(by_extra).is_ok(), trusted, "{kind}");

        // A bad key: a warning, the daemon's keys kept, the connection goes on.
        let bad = format!("{cache_pub} not-a-key");
        let (mut client, log) = connect_logged(&socket, &[("trusted-public-keys", &bad)]);
        assert!(
            warnings(&log)
                .iter()
                .any(|w| w.contains("trusted-public-keys")),
            "{kind}: {:?}",
            warnings(&log)
        );
        assert!(client.ensure_path(after_bad).is_err(), "{kind}");
        assert!(!client.is_valid_path(after_bad).unwrap(), "{kind}");
        // `QueryValidPaths` with substitution and the path-info query use them too.
        let (mut client, _) = connect_logged(&socket, &[("trusted-public-keys", &cache_pub)]);
        let asked = BTreeSet::from([by_query.clone()]);
        let got = client.query_valid_paths(&asked, true).unwrap();
        assert_eq!(got.contains(by_query), trusted, "{kind}");
        assert_eq!(
            client
                .query_substitutable_path_infos(&[(by_query.clone(), String::new())])
                .unwrap()
                .len(),
            1,
            "{kind}"
        );

        // `require-sigs = false`: the unsigned cache is accepted (a bad value: a warning).
        let (mut client, log) =
            connect_logged(&socket, &[("require-sigs", "perhaps"), ("max-jobs", "1")]);
        assert!(!warnings(&log).is_empty(), "{kind}");
        assert!(client.ensure_path(&unsigned[i]).is_err(), "{kind}");
        let (mut client, _) = connect_logged(&socket, &[("require-sigs", "false")]);
        assert_eq!(client.ensure_path(&unsigned[i]).is_ok(), trusted, "{kind}");
        assert_eq!(
            client.is_valid_path(&unsigned[i]).unwrap(),
            trusted,
            "{kind}"
        );
    }
}

#[test]
fn query_valid_paths_substitutes_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |s: &str| tmp.path().join(s);
    let src = open(&t("src"));
    let dep = text(&src, "dep");
    let top = src
        .add_text_to_store("top", b"refers to dep", &BTreeSet::from([dep.clone()]))
        .unwrap();
    let unsigned = input_addressed(&src, "unsigned");
    let drv = text(&src, "not-substituted.drv");
    let cached = BTreeSet::from([top.clone(), unsigned.clone(), drv.clone()]);
    let url = signed_file_cache(&t("cache"), &src, &cached, false, None);
    let nowhere = text(&open(&t("elsewhere")), "nowhere");
    let socket = start_with(tmp.path(), vec![url], trusting(true), Vec::new(), false);

    // A trusted client requiring signatures: the unsigned path fails with a warning.
    let (mut strict, log) = connect_logged(&socket, &[("require-sigs", "true")]);
    let asked = BTreeSet::from([unsigned.clone(), nowhere.clone()]);
    assert!(strict.query_valid_paths(&asked, true).unwrap().is_empty());
    let warned = warnings(&log);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("lacks a signature"), "{warned:?}");
    assert!(warned[0].contains(unsigned.name()), "{warned:?}");

    let (mut client, log) = connect_logged(&socket, &[]);
    let asked = BTreeSet::from([top.clone(), nowhere.clone(), drv.clone()]);
    // Without the flag: only what is valid, nothing substituted.
    assert!(client.query_valid_paths(&asked, false).unwrap().is_empty());
    assert!(!client.is_valid_path(&top).unwrap());
    // `use-substitutes = false`: the flag does nothing.
    let off = ClientSettings {
        use_substitutes: false,
        ..ClientSettings::default()
    };
    client.set_options(&off).unwrap();
    assert!(client.query_valid_paths(&asked, true).unwrap().is_empty());
    client.set_options(&ClientSettings::default()).unwrap();
    // With it: what a cache has is substituted, with its references; a path no cache has
    // is left out without a warning; derivations are not substituted.
    assert_eq!(
        client.query_valid_paths(&asked, true).unwrap(),
        BTreeSet::from([top.clone()])
    );
    assert!(warnings(&log).is_empty(), "{:?}", warnings(&log));
    assert!(log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("copying path") && l.contains(top.name())));
    for p in [&top, &dep] {
        assert!(client.is_valid_path(p).unwrap());
    }
    assert!(!client.is_valid_path(&drv).unwrap());
    // Valid paths are answered as before.
    assert_eq!(
        client.query_valid_paths(&asked, false).unwrap(),
        BTreeSet::from([top.clone()])
    );
    // An older client (no flag on the wire, < 1.27) is not covered here: the protocol
    // crate reads the flag as false then.
    assert!(strict.is_valid_path(&top).unwrap());
}
