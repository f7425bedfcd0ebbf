//! Substitution as one pipeline: NARs are downloaded and staged while the closure's
//! narinfos are still being fetched, and committed (made valid) only once every narinfo
//! has been fetched and checked, in the closure's order, references first. Workers take
//! paths as they are found (at most [`EARLY`] before the order is known), then in that
//! order within a window of the next path to commit; the caller commits. A failure in
//! commit order stops the workers and drops what was staged after it; a failed discovery
//! drops everything staged.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};

use super::file_cache::CacheError;
use super::narinfo::NarInfo;
use crate::StorePath;

/// Paths staged before the closure's order is known, at most.
const EARLY: usize = 64;
/// Paths staged ahead of the next one to commit once the order is known, at most (each
/// holds a temporary tree and a lock file descriptor until committed).
const WINDOW: usize = 128;

/// What workers and the caller share.
#[derive(Default)]
struct State {
    /// The narinfos found so far, in the order found.
    found: Vec<Arc<NarInfo>>,
    /// Whether each found path was taken by a worker.
    taken: Vec<bool>,
    /// Paths taken before the order was known.
    early: usize,
    /// The next found path to consider before the order is known.
    next_found: usize,
    /// Once discovery is over: indices into `found`, in commit order.
    order: Option<Vec<usize>>,
    /// The next position of `order` to consider.
    next_ordered: usize,
    /// Positions of `order` committed.
    committed: usize,
    /// Set on failure: workers stop.
    stopped: bool,
}

impl State {
    /// The next path a worker should stage (its index into `found`), `Some(None)` when
    /// there is none now, `None` when there will be none.
    fn next(&mut self) -> Option<Option<usize>> {
        if self.stopped {
            return None;
        }
        match &self.order {
            None => {
                if self.next_found < self.found.len() && self.early < EARLY {
                    let k = self.next_found;
                    self.next_found += 1;
                    self.early += 1;
                    self.taken[k] = true;
                    return Some(Some(k));
                }
                Some(None)
            }
            Some(order) => {
                while let Some(&k) = order.get(self.next_ordered) {
                    if !self.taken[k] {
                        break;
                    }
                    self.next_ordered += 1;
                }
                let &k = order.get(self.next_ordered)?;
                if self.next_ordered >= self.committed + WINDOW {
                    return Some(None);
                }
                self.next_ordered += 1;
                self.taken[k] = true;
                Some(Some(k))
            }
        }
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Found narinfos go to the workers through this.
pub(super) struct Publisher<'a> {
    state: &'a Mutex<State>,
    moved: &'a Condvar,
}

impl Publisher<'_> {
    /// `narinfo` was found and checked: it may be staged now.
    pub(super) fn publish(&self, narinfo: NarInfo) {
        let mut s = lock(self.state);
        s.found.push(Arc::new(narinfo));
        s.taken.push(false);
        drop(s);
        self.moved.notify_one();
    }
}

type Staged<T> = (usize, Result<T, CacheError>);

/// Runs `discover` on the caller's thread (it publishes each checked narinfo and returns
/// the commit order of the paths it published), `stage` for every published narinfo on up
/// to `jobs` threads (with the stop flag for [`super::parallel::Stoppable`]), and, once
/// `discover` has succeeded, `commit` on the caller's thread for each staged result in the
/// order. Stops at the first error in that order (of `stage` or `commit`), or at the error
/// of `discover`, and returns it; staged results not committed are dropped.
pub(super) fn stage_while_discovering<T, D, S, C>(
    jobs: usize,
    discover: D,
    stage: S,
    mut commit: C,
) -> Result<(), CacheError>
where
    T: Send,
    D: FnOnce(&Publisher<'_>) -> Result<Vec<StorePath>, CacheError>,
    S: Fn(&NarInfo, &AtomicBool) -> Result<T, CacheError> + Sync,
    C: FnMut(T) -> Result<(), CacheError>,
{
    let state = Mutex::new(State::default());
    let moved = Condvar::new();
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Staged<T>>();
    let worker = |tx: mpsc::Sender<Staged<T>>| loop {
        let (k, narinfo) = {
            let mut s = lock(&state);
            let k = loop {
                match s.next() {
                    None => return,
                    Some(Some(k)) => break k,
                    Some(None) => s = moved.wait(s).unwrap_or_else(|e| e.into_inner()),
                }
            };
            (k, Arc::clone(&s.found[k]))
        };
        if tx.send((k, stage(&narinfo, &stop))).is_err() {
            return;
        }
    };
    let halt = || {
        stop.store(true, Ordering::SeqCst);
        lock(&state).stopped = true;
        moved.notify_all();
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let tx = tx.clone();
            scope.spawn(move || worker(tx));
        }
        drop(tx);
        let publisher = Publisher {
            state: &state,
            moved: &moved,
        };
        let order = match discover(&publisher) {
            Ok(order) => order,
            Err(e) => {
                halt();
                return Err(e);
            }
        };
        // The order, as indices of the paths found.
        let order: Option<Vec<usize>> = {
            let mut s = lock(&state);
            let index: HashMap<&StorePath, usize> = s
                .found
                .iter()
                .enumerate()
                .map(|(k, n)| (&n.info.path, k))
                .collect();
            let order: Option<Vec<usize>> = order.iter().map(|p| index.get(p).copied()).collect();
            if let Some(order) = &order {
                s.order = Some(order.clone());
            }
            order
        };
        moved.notify_all();
        let Some(order) = order else {
            halt();
            return Err(CacheError::Io {
                path: "substitution".into(),
                source: io::Error::other("a path to commit was never found"),
            });
        };
        let mut waiting: BTreeMap<usize, Result<T, CacheError>> = BTreeMap::new();
        let mut result = Ok(());
        for (pos, &k) in order.iter().enumerate() {
            let item = loop {
                if let Some(item) = waiting.remove(&k) {
                    break item;
                }
                match rx.recv() {
                    Ok((j, item)) => {
                        waiting.insert(j, item);
                    }
                    // Every worker has gone without sending `k`: cannot happen unless one
                    // panicked.
                    Err(_) => {
                        break Err(CacheError::Io {
                            path: lock(&state).found[k].url.clone().into(),
                            source: io::Error::other("a substitution worker stopped"),
                        })
                    }
                }
            };
            if let Err(e) = item.and_then(&mut commit) {
                result = Err(e);
                break;
            }
            lock(&state).committed = pos + 1;
            moved.notify_all();
        }
        // Workers still running see the flag, their downloads fail at the next read, and
        // what they staged is dropped (removed) with the channel.
        halt();
        drop(waiting);
        drop(rx);
        result
    })
}
