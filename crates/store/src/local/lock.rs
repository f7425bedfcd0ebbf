//! Advisory file locks (`flock`) used by the local store: one lock per store path while it
//! is being added or deleted, and the GC lock that adders hold shared and the collector
//! holds exclusive.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// A held lock; released when dropped.
pub(crate) struct FileLock {
    lock: Flock<File>,
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

impl FileLock {
    /// Waits for an exclusive lock on `path` (created if missing).
    pub(crate) fn exclusive(path: &Path) -> io::Result<Self> {
        Self::take(path, FlockArg::LockExclusive)
    }

    /// Waits for a shared lock on `path` (created if missing).
    pub(crate) fn shared(path: &Path) -> io::Result<Self> {
        Self::take(path, FlockArg::LockShared)
    }

    /// Takes an exclusive lock on `path` if nobody holds it; `None` if someone does.
    pub(crate) fn try_exclusive(path: &Path) -> io::Result<Option<Self>> {
        match Flock::lock(open(path)?, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Some(Self { lock })),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(e.into()),
        }
    }

    fn take(path: &Path, arg: FlockArg) -> io::Result<Self> {
        let mut file = open(path)?;
        loop {
            match Flock::lock(file, arg) {
                Ok(lock) => return Ok(Self { lock }),
                Err((f, Errno::EINTR)) => file = f,
                Err((_, e)) => return Err(e.into()),
            }
        }
    }

    /// The locked file.
    pub(crate) fn file(&self) -> &File {
        &self.lock
    }
}
