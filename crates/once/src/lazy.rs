//! [`Lazy`]: pending work, then the value it produced or the failure, in one
//! cell under one atomic state byte.
//!
//! # The protocol
//! The state says which member of the payload union is initialised:
//!
//! | state     | payload      | who may touch the payload                          |
//! |-----------|--------------|----------------------------------------------------|
//! | `PENDING` | the work `C` | nobody; [`Lazy::claim`] moves it out               |
//! | `RUNNING` | nothing      | the holder of the [`Claim`] (writes once, then publishes) |
//! | `EMPTY`   | nothing      | nobody; [`Lazy::set`] fills it                     |
//! | `WRITING` | nothing      | the one [`Lazy::set`] that won the state           |
//! | `DONE`    | the value `V`| everyone reads; nobody writes again                |
//! | `FAILED`  | the error `E`| everyone reads; nobody writes again                |
//!
//! Leaving `PENDING` or `EMPTY` takes a compare-and-swap, so exactly one
//! thread wins the right to write; it writes the payload, then publishes the
//! new state with a release store. Readers load the state with acquire and
//! read the payload only in the two final states, which nothing leaves. So a
//! payload is never read while written, never written twice in a final
//! state, and never read as the wrong member.

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU8, Ordering};

const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const EMPTY: u8 = 2;
const WRITING: u8 = 3;
const DONE: u8 = 4;
const FAILED: u8 = 5;

/// The cell's contents; which member is live is the state's business.
union Payload<C, V, E> {
    work: ManuallyDrop<C>,
    value: ManuallyDrop<V>,
    failure: ManuallyDrop<E>,
    none: (),
}

/// A value computed at most once: it starts as pending work `C` (or empty),
/// and ends as a value `V` or a failure `E`.
///
/// Unlike [`std::sync::LazyLock`], the cell does not run the work itself: a
/// caller [claims](Lazy::claim) it (one compare-and-swap), runs it, and
/// [finishes](Claim::finish) with the value (one release store). A second
/// claim while the first runs is refused rather than waited for, which is
/// how an evaluator detects infinite recursion (a "black hole"). Forced
/// once, the value is read with one acquire load (a plain load on x86-64).
///
/// Beside the state sits a 32-bit *tag*, fixed when the cell is made
/// ([`Lazy::new_tagged`]): it fills padding that the state byte leaves in
/// the cell's last word, so work shared by many cells can tell them apart
/// (an element's index) at no cost in size.
pub struct Lazy<C, V, E> {
    state: AtomicU8,
    tag: u32,
    payload: UnsafeCell<Payload<C, V, E>>,
}

/// Why [`Lazy::claim`] got no work.
pub enum Unclaimed<'a, V, E> {
    /// Another claim is running (or was dropped without finishing), or a
    /// [`Lazy::set`] is writing.
    Running,
    /// The cell is empty, waiting for [`Lazy::set`].
    Empty,
    /// The value.
    Done(&'a V),
    /// The failure.
    Failed(&'a E),
}

/// What a successful [`Lazy::claim`] returns: the right to write the outcome,
/// and the work.
pub type Claimed<'a, C, V, E> = (Claim<'a, C, V, E>, C);

/// The right to write a claimed cell's outcome, once. Dropping it unused
/// leaves the cell running for good.
#[must_use = "a dropped claim leaves its cell running forever"]
pub struct Claim<'a, C, V, E> {
    cell: &'a Lazy<C, V, E>,
}

// SAFETY: a shared `Lazy` hands the work to the one thread that claims it (so
// `C` moves between threads: `C: Send`), lends the value and the failure to
// every thread at once (`V`, `E`: `Sync`), and takes them from whichever
// thread finishes or sets (`Send`). Every access to the payload follows the
// state protocol of the module documentation, so no two threads touch it
// unsynchronised.
#[allow(unsafe_code)]
unsafe impl<C: Send, V: Send + Sync, E: Send + Sync> Sync for Lazy<C, V, E> {}

impl<C, V, E> Lazy<C, V, E> {
    /// A cell holding `work`, to be claimed.
    #[inline]
    pub const fn new(work: C) -> Self {
        Self::new_tagged(work, 0)
    }

    /// A cell holding `work`, with a [tag](Lazy::tag).
    #[inline]
    pub const fn new_tagged(work: C, tag: u32) -> Self {
        Self::with(
            PENDING,
            tag,
            Payload {
                work: ManuallyDrop::new(work),
            },
        )
    }

    /// The number given to [`Lazy::new_tagged`] (0 for the other
    /// constructors); it never changes.
    #[inline]
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// A cell holding its value already.
    #[inline]
    pub const fn done(value: V) -> Self {
        Self::with(
            DONE,
            0,
            Payload {
                value: ManuallyDrop::new(value),
            },
        )
    }

    /// A cell holding a failure.
    #[inline]
    pub const fn failed(failure: E) -> Self {
        Self::with(
            FAILED,
            0,
            Payload {
                failure: ManuallyDrop::new(failure),
            },
        )
    }

    /// A cell with neither work nor value, filled later by [`Lazy::set`].
    #[inline]
    pub const fn empty() -> Self {
        Self::with(EMPTY, 0, Payload { none: () })
    }

    const fn with(state: u8, tag: u32, payload: Payload<C, V, E>) -> Self {
        Lazy {
            state: AtomicU8::new(state),
            tag,
            payload: UnsafeCell::new(payload),
        }
    }

    /// The value, once there is one.
    #[inline]
    pub fn get(&self) -> Option<&V> {
        if self.state.load(Ordering::Acquire) == DONE {
            Some(self.value_ref())
        } else {
            None
        }
    }

    /// The failure, if the work failed.
    #[inline]
    pub fn failure(&self) -> Option<&E> {
        if self.state.load(Ordering::Acquire) == FAILED {
            Some(self.failure_ref())
        } else {
            None
        }
    }

    /// Whether a claim is running (or was dropped unfinished), or a
    /// [`Lazy::set`] is writing.
    #[inline]
    pub fn is_running(&self) -> bool {
        matches!(self.state.load(Ordering::Acquire), RUNNING | WRITING)
    }

    /// Whether the cell is empty (made by [`Lazy::empty`], not set yet).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.state.load(Ordering::Acquire) == EMPTY
    }

    /// Takes the work out, leaving the cell running: the caller alone may
    /// then write the outcome, through the [`Claim`]. Otherwise, why not.
    #[inline]
    pub fn claim(&self) -> Result<Claimed<'_, C, V, E>, Unclaimed<'_, V, E>> {
        match self
            .state
            .compare_exchange(PENDING, RUNNING, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => {
                // SAFETY: the state was `PENDING`, so `work` is the live
                // member; winning the exchange to `RUNNING` makes this thread
                // the only one that touches the payload until it publishes
                // another state (readers read only in `DONE`/`FAILED`). The
                // acquire pairs with the release that published `PENDING`
                // (`Claim::restore`), or the cell was made by this thread or
                // sent to it.
                #[allow(unsafe_code)]
                let work = unsafe { ManuallyDrop::take(&mut (*self.payload.get()).work) };
                Ok((Claim { cell: self }, work))
            }
            Err(DONE) => Err(Unclaimed::Done(self.value_ref())),
            Err(FAILED) => Err(Unclaimed::Failed(self.failure_ref())),
            Err(EMPTY) => Err(Unclaimed::Empty),
            Err(_) => Err(Unclaimed::Running),
        }
    }

    /// Fills an empty cell with its value; gives the value back if the cell
    /// is not empty.
    pub fn set(&self, value: V) -> Result<&V, V> {
        if self
            .state
            .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(value);
        }
        // SAFETY: winning `EMPTY` -> `WRITING` makes this thread the only
        // writer; no member is live (nothing to drop), and nobody reads the
        // payload before the release store below publishes `DONE`.
        #[allow(unsafe_code)]
        unsafe {
            (*self.payload.get()).value = ManuallyDrop::new(value);
        }
        self.state.store(DONE, Ordering::Release);
        Ok(self.value_ref())
    }

    /// Takes a published value back out of a shared cell, leaving it empty
    /// (a later [`Lazy::set`] may fill it again). `None`, and nothing
    /// changed, unless the cell is `DONE`. This is how a cycle collector
    /// breaks a reference cycle through a cell it has proved unreachable.
    ///
    /// # Safety
    /// No reference handed out by [`Lazy::get`], [`Claim::finish`] or
    /// [`Unclaimed::Done`] for this cell may be alive, on any thread, when
    /// this is called or afterwards: the value moves out, and such a
    /// reference would point at it. (The state change itself is atomic: a
    /// reader racing with it sees either the value or an empty cell, but a
    /// reader that saw the value keeps a reference the caller must rule
    /// out.)
    #[allow(unsafe_code)]
    pub unsafe fn retract(&self) -> Option<V> {
        if self
            .state
            .compare_exchange(DONE, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        // SAFETY: `DONE` -> `WRITING` makes this thread the payload's only
        // user (readers read only in `DONE`/`FAILED`); `value` was the live
        // member; the caller guarantees no reference to it survives. The
        // release store of `EMPTY` says no member is live.
        #[allow(unsafe_code)]
        let value = unsafe { ManuallyDrop::take(&mut (*self.payload.get()).value) };
        self.state.store(EMPTY, Ordering::Release);
        Some(value)
    }

    /// The pending work, lent without claiming it (for a collector that
    /// reads what the work refers to).
    ///
    /// # Safety
    /// Nothing may claim the cell, nor drop it, while the returned
    /// reference lives (a claim moves the work out).
    #[allow(unsafe_code)]
    pub unsafe fn work_ref(&self) -> Option<&C> {
        if self.state.load(Ordering::Acquire) == PENDING {
            // SAFETY: `PENDING`: `work` is the live member, published by the
            // release store the acquire load saw (or the cell was made
            // pending); the caller guarantees no claim moves it out while
            // it is lent.
            Some(unsafe { &(*self.payload.get()).work })
        } else {
            None
        }
    }

    /// The value, with the cell not shared.
    pub fn get_mut(&mut self) -> Option<&mut V> {
        if *self.state.get_mut() == DONE {
            // SAFETY: `DONE`: `value` is live; `&mut self` excludes every
            // other access.
            #[allow(unsafe_code)]
            Some(unsafe { &mut *(*self.payload.get()).value })
        } else {
            None
        }
    }

    /// The work, with the cell not shared (still pending).
    pub fn work_mut(&mut self) -> Option<&mut C> {
        if *self.state.get_mut() == PENDING {
            // SAFETY: `PENDING`: `work` is live; `&mut self` excludes every
            // other access.
            #[allow(unsafe_code)]
            Some(unsafe { &mut *(*self.payload.get()).work })
        } else {
            None
        }
    }

    /// The value; the caller has seen `DONE` with an acquire load.
    #[inline]
    fn value_ref(&self) -> &V {
        // SAFETY: `DONE` is final and `value` is its live member, written
        // before the release store that the caller's acquire load saw.
        #[allow(unsafe_code)]
        unsafe {
            &(*self.payload.get()).value
        }
    }

    /// The failure; the caller has seen `FAILED` with an acquire load.
    #[inline]
    fn failure_ref(&self) -> &E {
        // SAFETY: as `value_ref`, for `FAILED` and `failure`.
        #[allow(unsafe_code)]
        unsafe {
            &(*self.payload.get()).failure
        }
    }
}

impl<'a, C, V, E> Claim<'a, C, V, E> {
    /// Publishes the value; every thread reads it from now on.
    #[inline]
    pub fn finish(self, value: V) -> &'a V {
        let cell = self.cell;
        // SAFETY: the claim is the cell's only writer (the state is `RUNNING`
        // since `claim` and nothing else leaves it); no member is live (the
        // work was moved out), so nothing is overwritten undropped.
        #[allow(unsafe_code)]
        unsafe {
            (*cell.payload.get()).value = ManuallyDrop::new(value);
        }
        cell.state.store(DONE, Ordering::Release);
        cell.value_ref()
    }

    /// Publishes a failure.
    pub fn fail(self, failure: E) -> &'a E {
        let cell = self.cell;
        // SAFETY: as in `finish`.
        #[allow(unsafe_code)]
        unsafe {
            (*cell.payload.get()).failure = ManuallyDrop::new(failure);
        }
        cell.state.store(FAILED, Ordering::Release);
        cell.failure_ref()
    }

    /// Puts the work back, to be claimed again.
    pub fn restore(self, work: C) {
        let cell = self.cell;
        // SAFETY: as in `finish`; the release store publishes the work to
        // the next claim's acquire.
        #[allow(unsafe_code)]
        unsafe {
            (*cell.payload.get()).work = ManuallyDrop::new(work);
        }
        cell.state.store(PENDING, Ordering::Release);
    }

    /// The cell this claim is for.
    pub fn cell(&self) -> &'a Lazy<C, V, E> {
        self.cell
    }
}

impl<C, V, E> Drop for Lazy<C, V, E> {
    fn drop(&mut self) {
        let payload = self.payload.get_mut();
        // SAFETY: `&mut self`: no other access; the state names the live
        // member (or none), dropped exactly once here.
        #[allow(unsafe_code)]
        unsafe {
            match *self.state.get_mut() {
                PENDING => ManuallyDrop::drop(&mut payload.work),
                DONE => ManuallyDrop::drop(&mut payload.value),
                FAILED => ManuallyDrop::drop(&mut payload.failure),
                _ => {}
            }
        }
    }
}

impl<C, V: fmt::Debug, E: fmt::Debug> fmt::Debug for Lazy<C, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.state.load(Ordering::Acquire) {
            DONE => f.debug_tuple("Done").field(self.value_ref()).finish(),
            FAILED => f.debug_tuple("Failed").field(self.failure_ref()).finish(),
            PENDING => f.write_str("Pending"),
            EMPTY => f.write_str("Empty"),
            _ => f.write_str("Running"),
        }
    }
}
