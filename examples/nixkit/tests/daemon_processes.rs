//! `nixkit daemon`'s connection models: in the process model (the default) every
//! connection is served by a process of its own, and killing one with SIGKILL in the middle
//! of a request leaves the daemon and the other clients working; the thread model serves
//! clients too. Needs no CppNix.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nixkit_protocol::worker::client::WorkerClient;
use nixkit_protocol::worker::request::WorkerRequest;
use nixkit_protocol::worker::types::ClientSettings;
use nixkit_protocol::Limits;
use nixkit_store::StoreDir;

type Client = WorkerClient<UnixStream, UnixStream>;

struct Daemon {
    child: Child,
    _dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(model: Option<&str>) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("socket");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nixkit"));
    cmd.arg("daemon")
        .arg("--store")
        .arg(dir.path().join("root"))
        .arg("--socket")
        .arg(&socket)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(m) = model {
        cmd.args(["--connection-model", m]);
    }
    let child = cmd.spawn().unwrap();
    let started = Instant::now();
    while !socket.exists() {
        assert!(started.elapsed() < Duration::from_secs(20), "no socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    Daemon {
        child,
        _dir: dir,
        socket,
    }
}

fn connect(socket: &Path) -> Client {
    let stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let reader = stream.try_clone().unwrap();
    let mut c = WorkerClient::connect(reader, stream, StoreDir::default(), Limits::default())
        .expect("handshake");
    c.set_options(&ClientSettings::default()).unwrap();
    c
}

/// The processes whose parent is `pid`.
fn children(pid: u32) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        if after.split_whitespace().nth(1) == Some(&pid.to_string()) {
            out.insert(child);
        }
    }
    out
}

/// Waits until `pid` has a child not in `known`; returns it.
fn new_child(pid: u32, known: &BTreeSet<u32>) -> u32 {
    let started = Instant::now();
    loop {
        if let Some(c) = children(pid).difference(known).next() {
            return *c;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no connection process appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn add_text(c: &mut Client, name: &str, text: &str) -> nixkit_store::StorePath {
    c.add_text_to_store(name, text.as_bytes(), &BTreeSet::new())
        .unwrap()
}

#[test]
fn a_killed_connection_process_leaves_the_others_working() {
    let d = start(None);
    let pid = d.child.id();
    let mut a = connect(&d.socket);
    let a_path = add_text(&mut a, "a.txt", "first client");
    let a_pid = new_child(pid, &BTreeSet::new());

    let b = connect(&d.socket);
    let b_pid = new_child(pid, &BTreeSet::from([a_pid]));
    assert_ne!(a_pid, b_pid, "each connection has a process of its own");
    // B stops in the middle of a request: half of an AddTextToStore is sent.
    let ctx = b.ctx().clone();
    let (mut b_in, mut b_out) = b.into_inner();
    let mut request = Vec::new();
    WorkerRequest::AddTextToStore {
        name: "b.txt".into(),
        text: vec![b'x'; 4096],
        references: BTreeSet::new(),
    }
    .write(&mut request, &ctx)
    .unwrap();
    b_out.write_all(&request[..request.len() / 2]).unwrap();
    b_out.flush().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let killed = Command::new("kill")
        .args(["-9", &b_pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // B's client sees its connection end, and does not hang.
    let mut buf = [0u8; 16];
    match b_in.read(&mut buf) {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("{n} unexpected bytes after the process was killed"),
    }

    // A goes on working, on the same connection and process.
    assert!(a.is_valid_path(&a_path).unwrap());
    let more = add_text(&mut a, "a2.txt", "still here");
    let info = a.query_path_info(&more).unwrap().expect("valid");
    assert_eq!(info.path, more);
    assert!(children(pid).contains(&a_pid));
    // The daemon still accepts connections, served by new processes.
    let mut c = connect(&d.socket);
    assert!(c.is_valid_path(&more).unwrap());
    let c_path = add_text(&mut c, "c.txt", "third client");
    assert!(a.is_valid_path(&c_path).unwrap());
    let mut d_child = d;
    assert!(
        d_child.child.try_wait().unwrap().is_none(),
        "the daemon runs on"
    );
    // A connection that ends cleanly leaves no process behind.
    drop(a);
    let started = Instant::now();
    while children(pid).contains(&a_pid) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the connection process did not end"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_thread_model_serves_clients_in_the_daemon_process() {
    let d = start(Some("thread"));
    let mut a = connect(&d.socket);
    let mut b = connect(&d.socket);
    let p = add_text(&mut a, "t.txt", "threads");
    assert!(b.is_valid_path(&p).unwrap());
    assert!(
        children(d.child.id()).is_empty(),
        "no connection processes in the thread model"
    );
}

#[test]
fn an_unknown_connection_model_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .args([
            "daemon",
            "--connection-model",
            "fibre",
            "--socket",
            "/nonexistent/s",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown connection model 'fibre'"));
}
