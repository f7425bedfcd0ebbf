//! Which evaluators of the process may be evaluating right now: the cycle
//! collector's permission to run.
//!
//! Values move freely between evaluators (they are `Send`), so an evaluator
//! evaluating on another thread may be forcing thunks and reading scopes of
//! this evaluator's heap; the collector may only run while no *other*
//! evaluator can be doing so. Each evaluator says when it may be evaluating
//! ([`Activity::begin`]: a top-level call, or from [`crate::Evaluator::state`]
//! until its next call) and when it stops ([`Activity::end`]). A collection
//! ([`exclusive`]) raises a flag, then reads how many evaluators are busy;
//! one starting reads the flag after counting itself. Both steps are
//! sequentially consistent, so at least one of them sees the other: either
//! the collector sees the new one and gives up, or the new one sees the
//! flag, takes itself back out and waits for the collection to end.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Evaluators of the process that may be evaluating.
static BUSY: AtomicUsize = AtomicUsize::new(0);
/// Raised while a collection runs (or is deciding whether to).
static COLLECTING: AtomicBool = AtomicBool::new(false);
/// Held for a whole collection: one at a time, and evaluators starting
/// meanwhile wait on it.
static COLLECTOR: Mutex<()> = Mutex::new(());

fn collector_lock() -> MutexGuard<'static, ()> {
    // The guarded data is `()`: a panic while holding it leaves nothing wrong.
    COLLECTOR.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether one evaluator is counted as busy.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    counted: bool,
}

impl Activity {
    /// Counts the evaluator as busy (nothing if it already is), waiting for
    /// a collection that is running to end.
    pub(crate) fn begin(&mut self) {
        if self.counted {
            return;
        }
        loop {
            BUSY.fetch_add(1, SeqCst);
            if !COLLECTING.load(SeqCst) {
                self.counted = true;
                return;
            }
            BUSY.fetch_sub(1, SeqCst);
            drop(collector_lock());
        }
    }

    /// The evaluator stopped evaluating (nothing if it was not counted).
    pub(crate) fn end(&mut self) {
        if std::mem::take(&mut self.counted) {
            BUSY.fetch_sub(1, SeqCst);
        }
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        self.end();
    }
}

/// Runs `collect` while no evaluator other than the caller's can be
/// evaluating (`own` is the caller's, busy if it collects in the middle of
/// an evaluation), and none starts until it returns; `None` without running
/// it if another one is busy.
pub(crate) fn exclusive<R>(own: &Activity, collect: impl FnOnce() -> R) -> Option<R> {
    /// Lowers the flag when the collection ends, a panicking one too.
    struct Raised(#[allow(dead_code)] MutexGuard<'static, ()>);
    impl Drop for Raised {
        fn drop(&mut self) {
            COLLECTING.store(false, SeqCst);
        }
    }
    let _raised = {
        let lock = collector_lock();
        COLLECTING.store(true, SeqCst);
        Raised(lock)
    };
    let others = BUSY.load(SeqCst).saturating_sub(usize::from(own.counted));
    (others == 0).then(collect)
}
