//! The state protocol of `Lazy` from outside: every transition, drops counted
//! per state, and racing threads (one claim wins, readers see the value whole).
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use nixkit_once::{Lazy, SetOnce, Unclaimed};

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn claim_finish_then_read() {
    let cell: Lazy<u64, u64, String> = Lazy::new(20);
    assert!(cell.get().is_none());
    let (claim, work) = cell.claim().ok().unwrap();
    assert!(cell.is_running());
    assert!(matches!(cell.claim(), Err(Unclaimed::Running)));
    assert_eq!(*claim.finish(work + 1), 21);
    assert_eq!(cell.get(), Some(&21));
    assert!(matches!(cell.claim(), Err(Unclaimed::Done(21))));
    assert!(cell.set(5).is_err());
}

#[test]
fn failure_is_kept_and_restore_allows_a_new_claim() {
    let cell: Lazy<u8, u8, String> = Lazy::new(1);
    let (claim, work) = cell.claim().ok().unwrap();
    claim.restore(work + 1);
    assert!(!cell.is_running());
    let (claim, work) = cell.claim().ok().unwrap();
    assert_eq!(work, 2);
    assert_eq!(claim.fail("boom".into()), "boom");
    assert!(cell.get().is_none());
    assert_eq!(cell.failure().map(String::as_str), Some("boom"));
    assert!(matches!(cell.claim(), Err(Unclaimed::Failed(e)) if e == "boom"));
}

#[test]
fn empty_cells_are_set_once() {
    let slot: SetOnce<String> = SetOnce::empty();
    assert!(slot.is_empty());
    assert!(matches!(slot.claim(), Err(Unclaimed::Empty)));
    assert_eq!(slot.set("a".into()).unwrap(), "a");
    assert_eq!(slot.set("b".into()).unwrap_err(), "b");
    assert_eq!(slot.get().map(String::as_str), Some("a"));
}

#[test]
fn every_state_drops_its_payload_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let c = || Counted(drops.clone());
    drop(Lazy::<Counted, Counted, Counted>::new(c()));
    drop(Lazy::<Counted, Counted, Counted>::done(c()));
    drop(Lazy::<Counted, Counted, Counted>::failed(c()));
    drop(Lazy::<Counted, Counted, Counted>::empty());
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    // Claimed: the work is the claimer's; the value the cell's.
    let cell = Lazy::<Counted, Counted, Counted>::new(c());
    let (claim, work) = cell.claim().ok().unwrap();
    drop(work);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    let _ = claim.finish(c());
    drop(cell);
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    // A claim dropped unfinished: nothing left to drop, the cell stays running.
    let cell = Lazy::<Counted, Counted, Counted>::new(c());
    let (claim, work) = cell.claim().ok().unwrap();
    drop(claim);
    drop(work);
    assert!(cell.is_running());
    drop(cell);
    assert_eq!(drops.load(Ordering::SeqCst), 6);
    // A set value and a restored work are dropped with the cell.
    let slot: Lazy<Counted, Counted, Counted> = Lazy::empty();
    assert!(slot.set(c()).is_ok());
    drop(slot);
    let cell = Lazy::<Counted, Counted, Counted>::new(c());
    let (claim, work) = cell.claim().ok().unwrap();
    claim.restore(work);
    drop(cell);
    assert_eq!(drops.load(Ordering::SeqCst), 8);
}

#[test]
fn get_mut_and_work_mut_see_the_live_member() {
    let mut cell: Lazy<u8, u8, u8> = Lazy::new(3);
    *cell.work_mut().unwrap() += 1;
    assert!(cell.get_mut().is_none());
    let (claim, work) = cell.claim().ok().unwrap();
    assert_eq!(work, 4);
    let _ = claim.finish(9);
    assert!(cell.work_mut().is_none());
    *cell.get_mut().unwrap() += 1;
    assert_eq!(cell.get(), Some(&10));
}

#[test]
fn racing_claims_have_one_winner_and_readers_see_the_whole_value() {
    for round in 0..200 {
        let threads = 8;
        let cell: Arc<Lazy<Vec<u64>, Vec<u64>, ()>> = Arc::new(Lazy::new(vec![round; 64]));
        let barrier = Arc::new(Barrier::new(threads));
        let wins = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (cell, barrier, wins) = (cell.clone(), barrier.clone(), wins.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    match cell.claim() {
                        Ok((claim, work)) => {
                            wins.fetch_add(1, Ordering::SeqCst);
                            let doubled: Vec<u64> = work.iter().map(|x| x * 2).collect();
                            let _ = claim.finish(doubled);
                        }
                        Err(Unclaimed::Running) => {}
                        Err(Unclaimed::Done(v)) => assert!(v.iter().all(|x| *x == round * 2)),
                        Err(_) => panic!("unexpected state"),
                    }
                    // Spin until the value is there; it is always whole.
                    loop {
                        if let Some(v) = cell.get() {
                            assert_eq!(v.len(), 64);
                            assert!(v.iter().all(|x| *x == round * 2));
                            break;
                        }
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(wins.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn racing_sets_have_one_winner() {
    for _ in 0..200 {
        let slot: Arc<SetOnce<usize>> = Arc::new(SetOnce::empty());
        let barrier = Arc::new(Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (slot, barrier) = (slot.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    slot.set(i).is_ok()
                })
            })
            .collect();
        let winners = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|won| *won)
            .count();
        assert_eq!(winners, 1);
        assert!(slot.get().is_some());
    }
}

#[test]
fn cells_stay_small() {
    // A payload of two words and a tag word, and the state: four words.
    assert_eq!(
        std::mem::size_of::<Lazy<(u64, u64, u64), (u64, u64), Box<u8>>>(),
        32
    );
    assert_eq!(std::mem::size_of::<SetOnce<Box<u8>>>(), 16);
}

#[test]
fn retract_takes_a_published_value_back_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let cell: SetOnce<Counted> = SetOnce::empty();
    // Nothing to retract before the value is set, nor from pending work.
    // SAFETY (test): no reference into the cell is alive.
    #[allow(unsafe_code)]
    let none = unsafe { cell.retract() };
    assert!(none.is_none());
    assert!(cell.set(Counted(drops.clone())).is_ok());
    #[allow(unsafe_code)]
    let taken = unsafe { cell.retract() };
    assert!(taken.is_some());
    assert!(cell.is_empty() && cell.get().is_none());
    assert_eq!(drops.load(Ordering::SeqCst), 0, "moved out, not dropped");
    drop(taken);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // Emptied, the cell can be set again, and drops what it holds once.
    assert!(cell.set(Counted(drops.clone())).is_ok());
    drop(cell);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    let pending: Lazy<u8, u8, u8> = Lazy::new(1);
    #[allow(unsafe_code)]
    let from_pending = unsafe { pending.retract() };
    assert!(from_pending.is_none() && pending.claim().is_ok());
}

/// Work of two pointers, as a thunk's code.
type TwoWords = (Box<u8>, Box<u8>);

#[test]
fn the_tag_is_kept_through_every_state_and_costs_no_size() {
    let cell: Lazy<TwoWords, (u64, u64), Box<str>> =
        Lazy::new_tagged((Box::new(1), Box::new(2)), 7);
    assert_eq!(cell.tag(), 7);
    let (claim, _work) = cell.claim().ok().unwrap();
    assert_eq!(cell.tag(), 7);
    claim.finish((3, 4));
    assert_eq!(cell.tag(), 7);
    assert_eq!(Lazy::<u8, u8, u8>::new(1).tag(), 0);
    // Two words of payload and the state byte take three words; the tag
    // fills the state's word.
    assert_eq!(std::mem::size_of_val(&cell), 24);
}
