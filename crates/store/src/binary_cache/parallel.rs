//! Helpers of parallel substitution (the pipeline itself is `pipeline.rs`): the default
//! number of jobs, a reader cut off when the substitution has failed elsewhere, and a
//! parallel map (narinfo queries).

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The default number of paths restored at once from a cache that does not say (a local
/// directory): the machine's cores, at least two.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
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
