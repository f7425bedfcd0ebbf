//! Hostile peers and random bytes: decoders never panic, never allocate what a peer claims
//! (a 2^60-byte string is refused before any buffer is made), never hang; clients facing a
//! garbage magic, an unknown version, a lying length or an unknown log code get typed errors.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nixkit_protocol::framed::{copy_nar, FramedReader};
use nixkit_protocol::serve::client::{read_path_infos, ServeClient, ServeRequest};
use nixkit_protocol::serve::export::read_export;
use nixkit_protocol::wire::{self, WireError};
use nixkit_protocol::worker::client::WorkerClient;
use nixkit_protocol::worker::reply::WorkerReply;
use nixkit_protocol::worker::request::WorkerRequest;
use nixkit_protocol::worker::stderr::{StderrMsg, STDERR_LAST, STDERR_NEXT};
use nixkit_protocol::worker::types::Ctx;
use nixkit_protocol::worker::{server_handshake, WORKER_MAGIC_1, WORKER_MAGIC_2};
use nixkit_protocol::{HandshakeError, Limits, ProtocolError};
use nixkit_store::{StoreDir, StorePath};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn ctx(minor: u64) -> Ctx {
    Ctx {
        store: StoreDir::default(),
        // Small limits: a random length is likelier to pass them and reach deeper code.
        limits: Limits {
            max_string: 4096,
            max_items: 64,
        },
        minor,
    }
}

/// Random words biased to small numbers, valid op codes and store path strings, so the
/// decoders get past their first field.
fn random_input(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if !seeds.is_empty() && rng.below(2) == 0 {
        // Mutate a valid encoding.
        let mut v = seeds[rng.below(seeds.len() as u64) as usize].clone();
        for _ in 0..=rng.below(4) {
            if v.is_empty() {
                break;
            }
            let i = rng.below(v.len() as u64) as usize;
            v[i] = rng.next() as u8;
        }
        let cut = rng.below(v.len() as u64 + 1) as usize;
        v.truncate(cut.max(v.len() / 2));
        return v;
    }
    let mut v = Vec::new();
    for _ in 0..rng.below(40) {
        let word = match rng.below(4) {
            0 => rng.below(50),
            1 => rng.below(3),
            2 => u64::MAX - rng.below(3),
            _ => rng.next(),
        };
        v.extend_from_slice(&word.to_le_bytes());
    }
    v
}

fn seeds() -> Vec<Vec<u8>> {
    let c = ctx(34);
    let p = StorePath::from_digest(&[1; 20], "x").expect("path");
    let reqs = vec![
        WorkerRequest::QueryPathInfo(p.clone()),
        WorkerRequest::QueryValidPaths {
            paths: BTreeSet::from([p.clone()]),
            substitute: false,
        },
        WorkerRequest::AddTextToStore {
            name: "n".into(),
            text: b"t".to_vec(),
            references: BTreeSet::from([p.clone()]),
        },
        WorkerRequest::FindRoots,
    ];
    let mut out = Vec::new();
    for r in reqs {
        let mut buf = Vec::new();
        r.write(&mut buf, &c).expect("write");
        out.push(buf);
    }
    let mut nar = Vec::new();
    nixkit_store::nar::write_flat_file_nar(b"abc", false, &mut nar).expect("nar");
    out.push(nar);
    out
}

#[test]
fn random_bytes_never_panic_any_decoder() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds = seeds();
    let probe_requests = [
        WorkerRequest::QueryPathInfo(StorePath::from_digest(&[1; 20], "x").expect("path")),
        WorkerRequest::FindRoots,
        WorkerRequest::QueryMissing(vec![]),
        WorkerRequest::CollectGarbage(nixkit_protocol::worker::types::GcOptions {
            action: nixkit_protocol::worker::types::GcAction::ReturnLive,
            paths_to_delete: BTreeSet::new(),
            ignore_liveness: false,
            max_freed: 0,
        }),
        WorkerRequest::QuerySubstitutablePathInfos(vec![]),
        WorkerRequest::QueryDerivationOutputMap(
            StorePath::from_digest(&[1; 20], "x.drv").expect("path"),
        ),
    ];
    let start = std::time::Instant::now();
    for i in 0..20_000u32 {
        let input = random_input(&mut rng, &seeds);
        let c = ctx([34, 21, 27][(i % 3) as usize]);
        let _ = WorkerRequest::read(&mut input.as_slice(), &c);
        let _ = WorkerReply::read(
            &probe_requests[(i as usize) % probe_requests.len()],
            &mut input.as_slice(),
            &c,
        );
        let _ = StderrMsg::read(&mut input.as_slice(), &c.limits, (1 << 8) | c.minor);
        let _ = ServeRequest::read(&mut input.as_slice(), &ctx(7));
        let _ = read_path_infos(&mut input.as_slice(), &ctx(7));
        let _ = read_export(&mut input.as_slice(), &ctx(7), 1 << 16);
        let _ = copy_nar(&mut input.as_slice(), &mut std::io::sink());
        let _ = FramedReader::new(input.as_slice()).read_to_end(&mut Vec::new());
        let mut sink = Vec::new();
        let _ = server_handshake(&mut input.as_slice(), &mut sink, "x");
        let _ = nixkit_protocol::serve::server_handshake(&mut input.as_slice(), &mut sink);
    }
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "decoders are linear in their input"
    );
}

#[test]
fn a_claimed_huge_string_is_refused_before_allocating() {
    let limits = Limits::default();
    let mut wire = (1u64 << 60).to_le_bytes().to_vec();
    wire.extend_from_slice(b"short");
    match wire::read_bytes(&mut wire.as_slice(), &limits, "name") {
        Err(WireError::StringTooLong { len, .. }) => assert_eq!(len, 1 << 60),
        other => panic!("{other:?}"),
    }
    // Under the limit but more than is sent: truncated, with a buffer no bigger than the data.
    let mut wire = (limits.max_string).to_le_bytes().to_vec();
    wire.extend_from_slice(&[0u8; 100]);
    assert!(matches!(
        wire::read_bytes(&mut wire.as_slice(), &limits, "name"),
        Err(WireError::Truncated { .. })
    ));
    // A huge list count is refused at once too.
    let wire = u64::MAX.to_le_bytes();
    assert!(matches!(
        wire::read_strings(&mut wire.as_slice(), &limits, "list"),
        Err(WireError::TooManyItems { .. })
    ));
    // Padding must be zero.
    let mut wire = 1u64.to_le_bytes().to_vec();
    wire.extend_from_slice(&[b'a', 0, 0, 1, 0, 0, 0, 0]);
    assert!(matches!(
        wire::read_bytes(&mut wire.as_slice(), &limits, "s"),
        Err(WireError::BadPadding { .. })
    ));
}

/// Runs `server` on one end of a socket pair and returns the other, with a read timeout
/// so that a hang fails the test instead of stalling it.
fn fake_peer(
    server: impl FnOnce(UnixStream) + Send + 'static,
) -> (UnixStream, std::thread::JoinHandle<()>) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    a.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    (a, std::thread::spawn(move || server(b)))
}

fn words(s: &mut UnixStream, ws: &[u64]) {
    for w in ws {
        let _ = s.write_all(&w.to_le_bytes());
    }
}

fn read_hello(s: &mut UnixStream) {
    let mut buf = [0u8; 8];
    let _ = s.read_exact(&mut buf);
}

fn connect_worker(a: UnixStream) -> Result<WorkerClient<UnixStream, UnixStream>, HandshakeError> {
    WorkerClient::connect(
        a.try_clone().expect("clone"),
        a,
        StoreDir::default(),
        Limits::default(),
    )
}

#[test]
fn worker_client_refuses_garbage_magic_and_unknown_versions() {
    let (a, t) = fake_peer(|mut s| {
        read_hello(&mut s);
        words(&mut s, &[0xdead_beef, 0x122]);
    });
    assert!(matches!(
        connect_worker(a),
        Err(HandshakeError::BadMagic {
            got: 0xdead_beef,
            ..
        })
    ));
    t.join().expect("peer");

    for version in [(2u64 << 8) | 1, (1 << 8) | 10, 1 << 40] {
        let (a, t) = fake_peer(move |mut s| {
            read_hello(&mut s);
            words(&mut s, &[WORKER_MAGIC_2, version]);
        });
        assert!(
            matches!(
                connect_worker(a),
                Err(HandshakeError::UnsupportedVersion { .. })
            ),
            "version {version:#x}"
        );
        t.join().expect("peer");
    }

    // A peer that hangs up in the middle of the handshake.
    let (a, t) = fake_peer(|mut s| {
        read_hello(&mut s);
        words(&mut s, &[WORKER_MAGIC_2]);
    });
    assert!(matches!(
        connect_worker(a),
        Err(HandshakeError::Wire(WireError::Truncated { .. }))
    ));
    t.join().expect("peer");
}

/// A daemon that does the handshake right (version 1.34), then answers the first request
/// with `reply`.
fn daemon_then(reply: Vec<u64>) -> (UnixStream, std::thread::JoinHandle<()>) {
    fake_peer(move |mut s| {
        read_hello(&mut s);
        words(&mut s, &[WORKER_MAGIC_2, 0x122]);
        let mut hello = [0u8; 24];
        let _ = s.read_exact(&mut hello);
        // Version string "x", then STDERR_LAST.
        words(&mut s, &[1, u64::from(b'x'), STDERR_LAST]);
        // Read the whole request (whatever arrives within a moment).
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        let mut req = [0u8; 4096];
        let _ = s.read(&mut req);
        words(&mut s, &reply);
    })
}

#[test]
fn worker_client_survives_lying_daemons() {
    let p = StorePath::from_digest(&[1; 20], "x").expect("path");
    // A log line claiming 2^60 bytes.
    let (a, t) = daemon_then(vec![STDERR_NEXT, 1 << 60]);
    let mut c = connect_worker(a).expect("handshake");
    match c.is_valid_path(&p) {
        Err(ProtocolError::Wire(WireError::StringTooLong { len, .. })) => assert_eq!(len, 1 << 60),
        other => panic!("{other:?}"),
    }
    t.join().expect("peer");

    // An unknown log code.
    let (a, t) = daemon_then(vec![0x1234_5678]);
    let mut c = connect_worker(a).expect("handshake");
    assert!(matches!(
        c.is_valid_path(&p),
        Err(ProtocolError::UnknownStderr { code: 0x1234_5678 })
    ));
    t.join().expect("peer");

    // A path set claiming 2^62 members.
    let (a, t) = daemon_then(vec![STDERR_LAST, 1 << 62]);
    let mut c = connect_worker(a).expect("handshake");
    assert!(matches!(
        c.query_referrers(&p),
        Err(ProtocolError::Wire(WireError::TooManyItems { .. }))
    ));
    t.join().expect("peer");

    // A daemon that hangs up mid-reply.
    let (a, t) = daemon_then(vec![STDERR_LAST]);
    let mut c = connect_worker(a).expect("handshake");
    assert!(matches!(
        c.is_valid_path(&p),
        Err(ProtocolError::Wire(WireError::Truncated { .. }))
    ));
    t.join().expect("peer");

    // A data request during an operation that has no data.
    let (a, t) = daemon_then(vec![nixkit_protocol::worker::stderr::STDERR_READ, 100]);
    let mut c = connect_worker(a).expect("handshake");
    assert!(matches!(
        c.is_valid_path(&p),
        Err(ProtocolError::Unexpected { .. })
    ));
    t.join().expect("peer");
}

#[test]
fn server_side_refuses_bad_clients() {
    // Garbage magic.
    let mut out = Vec::new();
    let wire = 0x4745_5420_2f20_4854u64.to_le_bytes(); // "HT / TEG": an HTTP client
    assert!(matches!(
        server_handshake(&mut wire.as_slice(), &mut out, "x"),
        Err(HandshakeError::BadMagic { .. })
    ));
    // An unknown client version.
    let mut wire = Vec::new();
    for w in [WORKER_MAGIC_1, 0x300] {
        wire.extend_from_slice(&u64::to_le_bytes(w));
    }
    assert!(matches!(
        server_handshake(&mut wire.as_slice(), &mut Vec::new(), "x"),
        Err(HandshakeError::UnsupportedVersion { major: 3, .. })
    ));
    // An unknown operation code and a known one without message types.
    let c = ctx(34);
    assert!(matches!(
        WorkerRequest::read(&mut 999u64.to_le_bytes().as_slice(), &c),
        Err(ProtocolError::UnknownOp { code: 999, .. })
    ));
    assert!(matches!(
        WorkerRequest::read(&mut 16u64.to_le_bytes().as_slice(), &c),
        Err(ProtocolError::UnsupportedOp {
            op: "ExportPath",
            ..
        })
    ));
    assert!(matches!(
        ServeRequest::read(&mut 42u64.to_le_bytes().as_slice(), &ctx(7)),
        Err(ProtocolError::UnknownOp { code: 42, .. })
    ));
}

#[test]
fn serve_client_refuses_garbage_magic_and_unknown_versions() {
    for (magic, version) in [
        (0x1234u64, 0x207u64),
        (nixkit_protocol::serve::SERVE_MAGIC_2, 0x307),
    ] {
        let (a, t) = fake_peer(move |mut s| {
            let mut hello = [0u8; 16];
            let _ = s.read_exact(&mut hello);
            words(&mut s, &[magic, version]);
        });
        let r = ServeClient::connect(
            a.try_clone().expect("clone"),
            a,
            StoreDir::default(),
            Limits::default(),
        );
        assert!(
            matches!(
                r,
                Err(HandshakeError::BadMagic { .. } | HandshakeError::UnsupportedVersion { .. })
            ),
            "{r:?}"
        );
        t.join().expect("peer");
    }
}
