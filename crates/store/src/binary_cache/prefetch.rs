//! Parallel downloads for substitution: while the NAR of one path is restored (in order,
//! references first, on the caller's thread and store handle), up to
//! [`PARALLEL_DOWNLOADS`] workers already fetch the raw (compressed) files of the next paths
//! into bounded channels, so latency and server time overlap with restoring. Every check
//! stays with the consumer: the bytes a worker passes on are as untrusted as the cache's.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

use super::file_cache::CacheError;
use super::narinfo::NarInfo;
use super::source::BinaryCache;

/// NAR files fetched at once ahead of the one being restored (CppNix's
/// `max-substitution-jobs` is 16).
pub const PARALLEL_DOWNLOADS: usize = 8;

/// Bytes per chunk, and chunks buffered per download: at most 1 MiB per worker.
const CHUNK: usize = 64 * 1024;
const DEPTH: usize = 16;

/// What a worker sends about one NAR file.
enum Msg {
    /// The request's outcome: the file follows, or the cache's error.
    Opened(Result<(), CacheError>),
    /// Bytes of the file.
    Data(Vec<u8>),
    /// Reading failed.
    Failed(io::Error),
    /// The whole file was sent.
    End,
}

/// The raw file of one download, as a reader.
struct Download {
    rx: Receiver<Msg>,
    buf: Vec<u8>,
    pos: usize,
    ended: bool,
}

impl Read for Download {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Msg::Data(chunk)) => {
                    self.buf = chunk;
                    self.pos = 0;
                }
                Ok(Msg::End) => self.ended = true,
                Ok(Msg::Failed(e)) => return Err(e),
                Ok(Msg::Opened(_)) | Err(_) => {
                    return Err(io::Error::other("download worker stopped"));
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Fetches one file into `tx`; stops quietly when the consumer has gone.
fn pump(cache: &dyn BinaryCache, narinfo: &NarInfo, tx: &SyncSender<Msg>) {
    let mut reader = match cache.nar_reader(narinfo) {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(Msg::Opened(Err(e)));
            return;
        }
    };
    if tx.send(Msg::Opened(Ok(()))).is_err() {
        return;
    }
    loop {
        let mut chunk = vec![0u8; CHUNK];
        match reader.read(&mut chunk) {
            Ok(0) => {
                let _ = tx.send(Msg::End);
                return;
            }
            Ok(n) => {
                chunk.truncate(n);
                if tx.send(Msg::Data(chunk)).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = tx.send(Msg::Failed(e));
                return;
            }
        }
    }
}

/// Calls `consume` for each of `queue` in order with a reader of its raw NAR file, fetched
/// ahead by worker threads; stops at the first error (workers then stop too).
pub(super) fn in_order<F>(
    cache: &dyn BinaryCache,
    queue: &[NarInfo],
    mut consume: F,
) -> Result<(), CacheError>
where
    F: FnMut(&NarInfo, Box<dyn Read + Send>) -> Result<(), CacheError>,
{
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..queue.len()).map(|_| sync_channel::<Msg>(DEPTH)).unzip();
    let senders = Mutex::new(senders.into_iter().map(Some).collect::<Vec<_>>());
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let worker = || loop {
        let k = next.fetch_add(1, Ordering::SeqCst);
        if k >= queue.len() || stop.load(Ordering::SeqCst) {
            return;
        }
        let tx = senders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(k)
            .and_then(Option::take);
        if let (Some(tx), Some(narinfo)) = (tx, queue.get(k)) {
            pump(cache, narinfo, &tx);
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_DOWNLOADS.min(queue.len()) {
            scope.spawn(worker);
        }
        let mut result = Ok(());
        // Receivers not reached (after an error) are dropped with the iterator, which
        // unblocks their workers.
        for (narinfo, rx) in queue.iter().zip(receivers) {
            let opened = match rx.recv() {
                Ok(Msg::Opened(r)) => r,
                _ => Err(CacheError::Io {
                    path: narinfo.url.clone().into(),
                    source: io::Error::other("download worker stopped"),
                }),
            };
            let step = opened.and_then(|()| {
                let download = Download {
                    rx,
                    buf: Vec::new(),
                    pos: 0,
                    ended: false,
                };
                consume(narinfo, Box::new(download))
            });
            if let Err(e) = step {
                stop.store(true, Ordering::SeqCst);
                result = Err(e);
                break;
            }
        }
        result
    })
}
