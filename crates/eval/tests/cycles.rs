//! The cycle collector from outside: it frees the reference cycles of
//! fixpoints, `rec` sets and `let`s, and never what an embedder still holds
//! (its values keep working after collections and after the evaluator that
//! made them is dropped), even while other threads clone and drop them.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use nixkit_eval::{Evaluator, Value, ValueView};

/// The collector runs only while no other evaluator of the process is
/// evaluating: the tests of this file take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Expressions whose values are reference cycles, of each kind the collector
/// must break: a `rec` set naming itself, a fixpoint through a `let`, a set
/// whose attribute refers to the set (the cycle does not pass through the
/// scope), a closure over its own scope stored in a formal's default, and an
/// unforced binding of an escaped `rec` set.
const CYCLES: &[&str] = &[
    "let s = rec { a = 1; self = s; f = x: s.a + x; }; in s.self.f 1",
    "let fix = f: let x = f x; in x; in (fix (self: { a = 2; b = self.a + 1; })).b",
    "let s = rec { a = 3; self = s; }; in s.self.self.a",
    "({ a ? b, b ? (x: a) }: 4) { }",
    "builtins.length (builtins.attrNames (rec { a = 5; b = a; c = c; }))",
];

#[test]
fn cyclic_garbage_is_emptied_and_results_stay_right() {
    let _turn = turn();
    // Five expressions register fewer anchors than an automatic collection
    // needs, so the one below finds them all.
    let mut ev = Evaluator::builder().build();
    let mut printed = Vec::new();
    for text in CYCLES {
        let v = ev.eval_str(text, "/").unwrap();
        printed.push(ev.print(&v, true).unwrap());
    }
    assert_eq!(printed, ["2", "3", "3", "4", "3"]);
    let emptied = ev
        .collect_cycles()
        .expect("with no other evaluator busy, it collects");
    assert!(emptied >= CYCLES.len(), "emptied only {emptied}");
    // Nothing is left to collect, and the evaluator still works.
    assert_eq!(ev.collect_cycles(), Some(0));
    let v = ev.eval_str(CYCLES[1], "/").unwrap();
    assert_eq!(ev.print(&v, true).unwrap(), "3");
}

/// Values an embedder holds (and everything they reach, evaluated or not)
/// survive collections.
#[test]
fn held_values_survive_collection() {
    let _turn = turn();
    let mut ev = Evaluator::builder().build();
    let held = ev
        .eval_str(
            "let s = rec { a = 6; b = a + 1; self = s; f = x: s.b * x; lazy = s.self.b; }; \
             fix = f: let x = f x; in x; \
             m = fix (self: { n = 7; twice = self.n * 2; }); \
             in { inherit s m; }",
            "/",
        )
        .unwrap();
    let s = ev.get_attr(&held, "s").unwrap().unwrap();
    // Part of it forced, part not.
    let a = ev.get_attr(&s, "a").unwrap().unwrap();
    assert_eq!(ev.print(&a, false).unwrap(), "6");
    for _ in 0..3 {
        assert!(ev.collect_cycles().is_some());
    }
    // Unrelated garbage in between, collected too.
    for text in CYCLES {
        ev.eval_str(text, "/").unwrap();
    }
    assert!(ev.collect_cycles().is_some());
    let f = ev.get_attr(&s, "f").unwrap().unwrap();
    let r = ev.call(&f, &[Value::Int(3)]).unwrap();
    assert_eq!(ev.print(&r, false).unwrap(), "21");
    let out = ev
        .eval_str("x: x.s.self.self.lazy + x.m.twice", "/")
        .unwrap();
    let r = ev.call(&out, std::slice::from_ref(&held)).unwrap();
    assert_eq!(ev.print(&r, false).unwrap(), "21");
    assert_eq!(
        ev.print(&held, true).unwrap().len(),
        ev.print(&held, true).unwrap().len()
    );
}

/// Dropping the evaluator collects, but a value the embedder keeps stays
/// whole: a new evaluator can still force what was left unforced.
#[test]
fn values_outlive_their_dropped_evaluator() {
    let _turn = turn();
    let mut ev = Evaluator::builder().build();
    let kept = ev
        .eval_str(
            "let s = rec { a = 8; later = s.self.a + 1; self = s; }; in s",
            "/",
        )
        .unwrap();
    drop(ev);
    let mut other = Evaluator::builder().build();
    let later = other.get_attr(&kept, "later").unwrap().unwrap();
    assert_eq!(other.print(&later, false).unwrap(), "9");
}

/// A second evaluator that is idle does not stop the collector; one that is
/// in the middle of an evaluation (on another thread, waiting inside a
/// builtin) does, and collecting works again once it is done.
#[test]
fn only_a_busy_second_evaluator_stops_collection() {
    let _turn = turn();
    let mut ev = Evaluator::builder().build();
    let mut idle = Evaluator::builder().build();
    let from_idle = idle.eval_str(CYCLES[0], "/").unwrap();
    ev.eval_str(CYCLES[0], "/").unwrap();
    assert!(ev.collect_cycles().unwrap() > 0);
    assert_eq!(idle.print(&from_idle, false).unwrap(), "2");

    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let entered_tx = std::sync::Mutex::new(entered_tx);
    let busy = std::thread::spawn(move || {
        let mut other = Evaluator::builder()
            .builtin("wait", 1, move |state, args| {
                entered_tx.lock().unwrap().send(()).unwrap();
                release_rx.lock().unwrap().recv().unwrap();
                state.force(&args[0])
            })
            .build();
        let v = other.eval_str("wait (let s = rec { a = 1; self = s; }; in s.self.a)", "/");
        other.print(&v.unwrap(), false).unwrap()
    });
    entered_rx.recv().unwrap();
    ev.eval_str(CYCLES[2], "/").unwrap();
    assert_eq!(ev.collect_cycles(), None, "another evaluator is evaluating");
    release_tx.send(()).unwrap();
    assert_eq!(busy.join().unwrap(), "1");
    assert!(ev.collect_cycles().unwrap() > 0);
}

/// An evaluator whose state was lent out (`state()`, to call builtins
/// directly) counts as evaluating until its next call.
#[test]
fn a_lent_state_counts_as_evaluating() {
    let _turn = turn();
    let mut ev = Evaluator::builder().build();
    let mut other = Evaluator::builder().build();
    ev.eval_str(CYCLES[0], "/").unwrap();
    let _ = other.state();
    assert_eq!(ev.collect_cycles(), None);
    other.eval_str("1", "/").unwrap();
    assert!(ev.collect_cycles().unwrap() > 0);
}

/// One long evaluation that makes cyclic garbage all along has it collected
/// while it runs, and gets the right result.
#[test]
fn garbage_is_collected_during_a_long_evaluation() {
    let _turn = turn();
    let mut ev = Evaluator::builder().build();
    let v = ev
        .eval_str(
            "builtins.foldl' (acc: i: acc + (let s = rec { a = i; self = s; b = s.self.a; }; in s.b)) \
             0 (builtins.genList (i: i) 300000)",
            "/",
        )
        .unwrap();
    assert_eq!(ev.print(&v, true).unwrap(), "44999850000");
    let stats = ev.cycle_stats();
    assert!(stats.during_evaluation > 0, "{stats:?}");
    assert!(stats.emptied > 100_000, "{stats:?}");
}

/// Other threads walking the embedder's values while the collector counts,
/// each holding one reference at a time (clone the child, drop the parent):
/// the collector either sees a stable picture or gives up, and the values
/// stay right.
#[test]
fn concurrent_walks_keep_values_intact() {
    let _turn = turn();
    let mut ev = Evaluator::builder().build();
    let held = ev
        .eval_str(
            "let s = rec { a = 10; self = s; xs = builtins.genList (i: { v = i; up = s; }) 50; }; in s",
            "/",
        )
        .unwrap();
    ev.force_deep(&held).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (start, stop) = (held.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut current = start;
                let mut n = w;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let next = match current.view() {
                        Some(ValueView::Attrs(s)) => match s.get_str("xs") {
                            Some(xs) => xs.clone(),
                            None => s.get_str("up").unwrap().clone(),
                        },
                        Some(ValueView::List(items)) => items[n % items.len()].clone(),
                        _ => panic!("the walk reached an emptied value"),
                    };
                    current = next;
                    n += 1;
                }
                (current, n)
            })
        })
        .collect();
    drop(held);
    for text in CYCLES.iter().cycle().take(200) {
        ev.eval_str(text, "/").unwrap();
        ev.collect_cycles();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let check = ev
        .eval_str("x: if x ? up then x.up.self.a + x.v else if builtins.isList x then builtins.length x else x.self.a", "/")
        .unwrap();
    for w in workers {
        let (last, steps) = w.join().unwrap();
        assert!(steps > 0);
        let r = ev.call(&check, &[last]).unwrap();
        let r = ev.print(&r, true).unwrap();
        assert!(
            r.parse::<i64>().is_ok_and(|n| (10..=60).contains(&n)),
            "{r}"
        );
    }
}

/// Cycles through code that many thunks share (the elements of one `map`,
/// `genList`, `mapAttrs` or `zipAttrsWith` hold one allocation for the
/// function and an index each): garbage when dropped, and whole when held,
/// forced elements and pending ones alike.
const SHARED_CODE: &[(&str, &str)] = &[
    (
        "let s = { xs = map (x: s.n + x) [ 1 2 3 ]; n = 1; }; in s",
        "s: builtins.elemAt s.xs",
    ),
    (
        "let s = { xs = builtins.genList (i: s.n * i) 3; n = 2; }; in s",
        "s: builtins.elemAt s.xs",
    ),
    (
        "let s = { m = builtins.mapAttrs (k: v: v + s.n) { a = 0; b = 1; c = 2; }; n = 3; }; in s",
        "s: i: builtins.getAttr (builtins.elemAt [ \"a\" \"b\" \"c\" ] i) s.m",
    ),
    (
        "let s = { z = builtins.zipAttrsWith (k: vs: builtins.length vs + s.n) \
         [ { a = 0; b = 0; c = 0; } { b = 0; c = 0; } { c = 0; } ]; n = 4; }; in s",
        "s: i: builtins.getAttr (builtins.elemAt [ \"a\" \"b\" \"c\" ] i) s.z",
    ),
];

#[test]
fn cycles_through_shared_code_are_collected_and_held_ones_kept() {
    let _turn = turn();
    let mut ev = Evaluator::builder().build();
    // Garbage: each set, one element forced, dropped.
    for (set, pick) in SHARED_CODE {
        let text = format!("({pick}) ({set}) 0");
        ev.eval_str(&text, "/").unwrap();
    }
    let emptied = ev.collect_cycles().expect("no other evaluator is busy");
    assert!(emptied >= SHARED_CODE.len(), "emptied only {emptied}");
    assert_eq!(ev.collect_cycles(), Some(0));
    // Held: the first element forced before the collections, the others after.
    let expected = [[2, 3, 4], [0, 2, 4], [3, 4, 5], [5, 6, 7]];
    for ((set, pick), want) in SHARED_CODE.iter().zip(expected) {
        let held = ev.eval_str(set, "/").unwrap();
        let pick = ev.eval_str(pick, "/").unwrap();
        let first = ev.call(&pick, &[held.clone(), Value::Int(0)]).unwrap();
        assert_eq!(ev.print(&first, true).unwrap(), want[0].to_string());
        for _ in 0..3 {
            assert!(ev.collect_cycles().is_some());
        }
        for (i, w) in want.iter().enumerate() {
            let r = ev
                .call(&pick, &[held.clone(), Value::Int(i as i64)])
                .unwrap();
            assert_eq!(
                ev.print(&r, true).unwrap(),
                w.to_string(),
                "{set}, element {i}"
            );
        }
    }
}
