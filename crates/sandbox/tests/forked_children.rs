//! The processes the sandbox forks (the builder's intermediate process and init, the
//! `file://` fetcher) end with `_exit`, never `exit`: they are copies of one thread of a
//! multi-threaded process, and `exit` would run the process's exit handlers, which may
//! wait for a lock another thread held at the fork, forever. Here an exit handler that
//! does exactly that is installed while a lock is held for good; a fetch and a sandboxed
//! build must still finish. (nixkit's allocator, mimalloc, has such a handler; a fetcher
//! hung in it about once in 600 builds of the example package set.)
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use common::*;
use nixkit_store::{Hash, HashAlgo};

/// Held for the rest of the test process's life once [`install_trap`] has run.
static HELD: Mutex<()> = Mutex::new(());
/// The test process's pid: its own exit passes the trap.
static OWNER: AtomicU32 = AtomicU32::new(0);

extern "C" fn trap() {
    if std::process::id() != OWNER.load(Ordering::SeqCst) {
        // A forked child that ran its exit handlers: this waits forever.
        drop(HELD.lock());
    }
}

/// Locks [`HELD`] for good and installs [`trap`] as an exit handler.
fn install_trap() {
    OWNER.store(std::process::id(), Ordering::SeqCst);
    std::mem::forget(HELD.lock().unwrap());
    // SAFETY: `trap` is an `extern "C" fn()` that lives as long as the program.
    #[allow(unsafe_code)]
    let r = unsafe { libc::atexit(trap) };
    assert_eq!(r, 0);
}

/// Runs `f` on a thread; fails the test if it has not finished within a minute.
fn within_a_minute<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} did not finish: a forked child ran exit handlers"))
}

#[test]
fn forked_children_run_no_exit_handlers() {
    if unsupported() {
        return;
    }
    install_trap();
    let mut t = TestStore::new();
    let data: &[u8] = b"fetched through a forked reader\n";
    let file = t.dir.path().join("source.txt");
    std::fs::write(&file, data).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(t.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let fetched = t.fetchurl(
        "source.txt",
        &format!("file://{}", file.display()),
        Hash::digest(HashAlgo::Sha256, data),
    );
    let built = t.drv("built", "echo built > $out", &[], &["out"], &[]);
    let (fetched_out, built_out) = (t.out(&fetched, "out"), t.out(&built, "out"));
    let t = within_a_minute("the fetch and the build", move || {
        t.build(&fetched).unwrap();
        t.build(&built).unwrap();
        t
    });
    assert_eq!(std::fs::read(t.real(&fetched_out)).unwrap(), data);
    assert_eq!(
        std::fs::read_to_string(t.real(&built_out)).unwrap(),
        "built\n"
    );
}
