//! The locks of a target root (flock(2) on a file, so a lock dies with the last
//! descriptor of its open file, e.g. when its holder is killed): the activation lock
//! `ROOT/nix/var/nix/osconf.lock`, held by every command that changes the root and by a
//! booting container while its init activates the system, and the run lock
//! `ROOT/nix/var/osconf/run.lock`, held by a running container's init for its whole life.
//! A lock file holds one line naming its holder (`PID WHAT`), for error messages.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::FlockArg;

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock file could not be made, opened or locked.
    #[error("cannot lock '{path}': {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// An open lock file; the lock (once taken) lasts as long as this file or a duplicate of
/// its descriptor (e.g. one passed to a container's init) stays open.
#[derive(Debug)]
pub struct LockFile {
    file: File,
    path: PathBuf,
}

impl LockFile {
    /// Opens (creating it and its directory) the lock file `path`.
    pub fn open(path: &Path) -> Result<LockFile, LockError> {
        let err = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(err)?;
        Ok(LockFile {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file (its descriptor carries the lock).
    pub fn file(&self) -> &File {
        &self.file
    }

    fn flock(&self, arg: FlockArg) -> Result<(), Errno> {
        // `nix::fcntl::Flock` unlocks when dropped, which would also release the lock of
        // a descriptor passed on; the plain call leaves it to the last close.
        #[allow(deprecated)]
        nix::fcntl::flock(self.file.as_raw_fd(), arg)
    }

    /// Takes the lock if it is free; false if another holds it.
    pub fn try_lock(&self) -> Result<bool, LockError> {
        loop {
            match self.flock(FlockArg::LockExclusiveNonblock) {
                Ok(()) => return Ok(true),
                Err(Errno::EWOULDBLOCK) => return Ok(false),
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(self.io_err(errno.into())),
            }
        }
    }

    /// Takes the lock, waiting for its holder to release it.
    pub fn lock(&self) -> Result<(), LockError> {
        loop {
            match self.flock(FlockArg::LockExclusive) {
                Ok(()) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(self.io_err(errno.into())),
            }
        }
    }

    /// Records the holder (`pid what`) in the file; call it holding the lock.
    pub fn set_holder(&self, pid: u32, what: &str) -> Result<(), LockError> {
        let mut f = &self.file;
        f.set_len(0)
            .and_then(|()| {
                use std::io::Seek;
                f.seek(io::SeekFrom::Start(0))?;
                f.write_all(format!("{pid} {what}\n").as_bytes())
            })
            .map_err(|e| self.io_err(e))
    }

    /// Who holds the lock, as its holder recorded it ("pid PID (WHAT)"), waiting a moment
    /// for a holder that just took it to record itself; "an unknown process" otherwise.
    pub fn holder(&self) -> String {
        let end = Instant::now() + Duration::from_secs(1);
        loop {
            let text = std::fs::read_to_string(&self.path).unwrap_or_default();
            if let Some((pid, what)) = text.trim().split_once(' ') {
                if pid.parse::<u32>().is_ok() {
                    return format!("pid {pid} ({what})");
                }
            }
            if Instant::now() >= end {
                return "an unknown process".to_owned();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn io_err(&self, source: io::Error) -> LockError {
        LockError::Io {
            path: self.path.clone(),
            source,
        }
    }
}
