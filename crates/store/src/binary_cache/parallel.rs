//! Parallel substitution: worker threads each take the next path of the queue (references
//! first) and download, decompress, hash, check and restore its NAR into staging at once;
//! the caller receives the staged paths strictly in queue order and commits them, so a path
//! becomes valid only after every path before it (its references among them). A failure
//! stops the workers (their downloads are cut off) and drops what was staged after it.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::file_cache::CacheError;
use super::narinfo::NarInfo;

/// Paths staged ahead of the next one to commit, at most (each holds a temporary tree and
/// a lock file descriptor until committed).
const WINDOW: usize = 128;

/// The default number of paths restored at once from a cache that does not say (a local
/// directory): the machine's cores, at least two.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

/// Where the workers are: the next queue index to take, and how many the caller has taken.
struct Progress {
    next: usize,
    taken: usize,
}

/// A reader that fails once `stop` is set: a worker's download ends as soon as the
/// substitution has failed elsewhere, instead of running (or stalling) to its end.
pub(super) struct Stoppable<'s> {
    pub(super) inner: Box<dyn Read + Send>,
    pub(super) stop: &'s AtomicBool,
}

impl Read for Stoppable<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(io::Error::other(
                "substitution stopped by an earlier failure",
            ));
        }
        self.inner.read(buf)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `stage` for every item of `queue` on up to `jobs` threads (it gets the stop flag
/// to pass to [`Stoppable`]), and `commit` on the caller's thread for each staged result
/// in queue order. Stops at the first error in queue order (of `stage` or `commit`) and
/// returns it; staged results after it are dropped.
pub(super) fn stage_in_order<T, S, C>(
    jobs: usize,
    queue: &[NarInfo],
    stage: S,
    mut commit: C,
) -> Result<(), CacheError>
where
    T: Send,
    S: Fn(&NarInfo, &AtomicBool) -> Result<T, CacheError> + Sync,
    C: FnMut(T) -> Result<(), CacheError>,
{
    let progress = Mutex::new(Progress { next: 0, taken: 0 });
    let moved = Condvar::new();
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Result<T, CacheError>)>();
    let worker = |tx: mpsc::Sender<(usize, Result<T, CacheError>)>| loop {
        let k = {
            let mut p = lock(&progress);
            while p.next >= p.taken + WINDOW && !stop.load(Ordering::SeqCst) {
                p = moved.wait(p).unwrap_or_else(|e| e.into_inner());
            }
            if p.next >= queue.len() || stop.load(Ordering::SeqCst) {
                return;
            }
            p.next += 1;
            p.next - 1
        };
        let Some(narinfo) = queue.get(k) else { return };
        if tx.send((k, stage(narinfo, &stop))).is_err() {
            return;
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, queue.len().max(1)) {
            let tx = tx.clone();
            scope.spawn(move || worker(tx));
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, Result<T, CacheError>> = BTreeMap::new();
        let mut result = Ok(());
        let mut want = 0;
        while want < queue.len() {
            let item = match waiting.remove(&want) {
                Some(item) => item,
                None => match rx.recv() {
                    Ok((k, item)) => {
                        waiting.insert(k, item);
                        continue;
                    }
                    // Every worker has gone without sending `want`: cannot happen unless
                    // one panicked.
                    Err(_) => Err(CacheError::Io {
                        path: queue[want].url.clone().into(),
                        source: io::Error::other("a substitution worker stopped"),
                    }),
                },
            };
            if let Err(e) = item.and_then(&mut commit) {
                result = Err(e);
                break;
            }
            want += 1;
            lock(&progress).taken = want;
            moved.notify_all();
        }
        // Workers still running see the flag, their downloads fail at the next read, and
        // what they staged is dropped (removed) with the channel.
        stop.store(true, Ordering::SeqCst);
        moved.notify_all();
        drop(waiting);
        drop(rx);
        result
    })
}

/// `f` of each of `items`, in order, computed on up to `jobs` threads (on the caller's
/// thread alone for a single item).
pub(super) fn map_parallel<T, R, F>(jobs: usize, items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    if items.len() <= 1 || jobs <= 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(items.len()) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(k) else { return };
                let r = f(item);
                if let Some(slot) = lock(&slots).get_mut(k) {
                    *slot = Some(r);
                }
            });
        }
    });
    // Every slot was filled unless a thread panicked (then the scope re-panics first).
    slots
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}
