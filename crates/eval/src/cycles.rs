//! The cycle collector: trial deletion from the bindings where reference
//! cycles start, run between top-level calls and at the steps of a long
//! evaluation, while no other evaluator of the process is evaluating.
//!
//! # Where cycles come from
//! Values are reference counted and immutable once built; the only edges
//! added to an object after it exists are a thunk's value (when forced) and
//! the slots of a *deferred* scope (`let`, `rec`, formals with defaults),
//! filled after the scope exists because their thunks refer to it. A thunk
//! can only come to reach itself through a scope that holds it, so every
//! cycle starts at a binding of a deferred scope — a `letrec`, as in any
//! lazy language — though it need not pass through the scope itself (a
//! `rec` set whose `self = s` holds the set, which holds `self`).
//!
//! # Anchors
//! The walk starts from anchors ([`CycleRegistry`]): the deferred scopes
//! still referred to when their `let`, call or `rec` set is done (see
//! `Env::release_own_cycle`, which already frees the plain case), and, when
//! a deferred scope is freed (at once, or when the registry finds itself
//! its last holder), the scope's bindings that something else still refers
//! to. Anchors only the registry holds are dropped as it grows, so it holds
//! about as many as are alive.
//!
//! # Trial deletion
//! [`CycleRegistry::collect`] walks everything reachable from the anchors
//! and counts, per object, the references that come from other objects it
//! found. An object with more references than that is held from outside
//! (the evaluator's caches, the embedder's values); it and everything it
//! reaches are alive. The rest is garbage: its thunks and deferred slots are
//! emptied, which breaks the cycles, and reference counting frees the rest.
//! Missing an edge (compiled code is not walked) only makes an object look
//! held from outside: the collector frees less, never a live object.
//!
//! # When it runs
//! After a top-level call once as many new anchors piled up as survived the
//! last collection; in the evaluator's drop; and in the middle of an
//! evaluation, at a step ([`EvalState::step`], every 1,024 calls or thunks
//! forced), once four times as many anchors piled up (at least 16,384 new
//! ones) *and* enough steps were evaluated since the last collection to pay
//! for walking again what it found alive (32 per object): garbage is walked
//! once, and walks over a large live heap are spread out in proportion to
//! the evaluation's work.
//!
//! # Why it is sound
//! Emptying a cell moves its value out while the collector has only a
//! shared reference ([`nixkit_once::Lazy::retract`]), and the walk reads a
//! pending thunk's code without claiming it ([`nixkit_once::Lazy::work_ref`]).
//! Both need that nothing else touches those cells meanwhile, and that no
//! reference into an emptied cell's value is alive.
//!
//! Other evaluators: values can move between evaluators, so another one
//! could be evaluating inside this one's scopes. A collection runs only
//! while no other evaluator of the process is evaluating, and none starts
//! until it ends (`activity.rs`).
//!
//! This evaluator's own evaluation, when the collection runs at a step: it
//! is stopped there, on this thread, with the whole `EvalState` lent to the
//! collector (so nothing borrowed from the state is alive up the stack).
//! Every reference its frames hold into the heap is owned or borrowed from
//! an owned one: a local value or scope, a claimed thunk's code (a claim
//! moves the code out of its cell onto the stack, leaving the cell running,
//! which the walk treats as referring to nothing). An owned reference
//! outside the heap counts as a reference from outside, so the object it
//! points to and everything reachable from it is alive: no frame can hold a
//! reference into garbage. `eval` has no `unsafe` code that could hide a
//! reference from the counts.
//!
//! Other threads may still clone, read and drop this evaluator's values
//! (they are `Send`) while the collector counts; so the counts are read
//! twice, after the walk and after the marking, and any change abandons the
//! collection. A thread can only keep a value it reached from one it held;
//! either that one was counted as held from outside (and everything it
//! reaches is alive), or the new reference shows in the second reading. The
//! anchors keep everything the walk reaches alive, so its borrowed
//! references stay valid.

use std::collections::HashMap;

use triomphe::Arc;

use crate::activity::{exclusive, Activity};
use crate::attr_set::Attr;
use crate::eval::EvalState;
use crate::source::Pos;
use crate::thunk::{Code, Env, EnvRef, OtherCode, Released, Thunk};
use crate::value::{Closure, List, PrimOpApp, SharedSlice, Value};

/// Collections run to the end by every evaluator of the process.
static IN_PROCESS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many collections every evaluator of the process ran to the end.
pub fn collections_in_process() -> u64 {
    IN_PROCESS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Anchors at which the registry first drops the ones only it holds, and
/// the least number of new ones between two collections.
const MIN_PRUNE: usize = 1024;
const MIN_COLLECT: usize = 64;

/// Anchors before the first collection in the middle of an evaluation, and
/// the least number of new ones between two such collections.
const MIN_MIDWAY: usize = 16 * 1024;
/// Evaluation steps (calls and thunks forced) that pay for a collection in
/// the middle of an evaluation to walk one object it finds alive, counted
/// over the whole life of the evaluator: a walk costs about as much per
/// object as evaluation does per 4 steps, so walking what stays alive, again
/// and again, takes about an eighth of the evaluation's time at most
/// (PERFORMANCE.md, "Twelfth pass"). Garbage is walked once, and is not
/// counted: collecting it is what the walk is for.
const STEPS_PER_LIVE: u64 = 32;

/// Objects from which the collector looks for cycles (see the module docs).
pub(crate) struct CycleRegistry {
    /// Off for an evaluator that never collects: nothing is registered.
    enabled: bool,
    /// Collect whenever anchors are registered (for tests).
    eager: bool,
    anchors: Vec<Node>,
    /// Length at which [`CycleRegistry::push`] prunes.
    prune_at: usize,
    /// Length at which [`CycleRegistry::due`] says a collection is due.
    collect_at: usize,
    /// Steps evaluated in all; live objects walked by the collections in the
    /// middle of evaluations, and how many the last collection found (the
    /// guess at what the next will walk); anchors that make the next one due
    /// ([`CycleRegistry::due_midway`]).
    steps: u64,
    live_walked: u64,
    last_alive: u64,
    midway_at: usize,
    /// Anchors registered since the last collection.
    fresh: usize,
    /// Collections run, and objects emptied by them.
    pub(crate) collections: u64,
    pub(crate) emptied: u64,
    /// Collections run in the middle of an evaluation.
    pub(crate) midway: u64,
    /// Collections abandoned because a count changed under them.
    pub(crate) abandoned: u64,
}

impl CycleRegistry {
    /// A registry; `enabled` false makes registering a no-op; `eager` makes
    /// a collection due whenever an anchor was registered since the last.
    pub(crate) fn new(enabled: bool, eager: bool) -> CycleRegistry {
        CycleRegistry {
            enabled,
            eager,
            anchors: Vec::new(),
            prune_at: MIN_PRUNE,
            collect_at: MIN_COLLECT,
            steps: 0,
            live_walked: 0,
            last_alive: 0,
            midway_at: MIN_MIDWAY,
            fresh: 0,
            collections: 0,
            emptied: 0,
            midway: 0,
            abandoned: 0,
        }
    }
}

/// What a collection took out of the cells it emptied, dropped by the
/// caller once the collection's lock is released (dropping a value may run
/// an embedder's code: a builtin's closure freed with it).
#[derive(Default)]
struct Emptied {
    values: Vec<Value>,
    codes: Vec<Code>,
}

/// Why a collection did not run or stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It ran; this many thunks and scopes were emptied.
    Collected(usize),
    /// Another evaluator of the process may be evaluating.
    Busy,
    /// A reference count changed while counting (another thread).
    Abandoned,
}

impl CycleRegistry {
    /// Keeps `scope`, a deferred scope still referred to from elsewhere
    /// after its `let`, call or `rec` set was built, as an anchor.
    #[inline]
    pub(crate) fn register(&mut self, scope: Arc<Env>) {
        if self.enabled {
            self.push(Node::Env(scope));
        }
    }

    /// A deferred scope is about to be freed (nothing else refers to it):
    /// its bindings that are referred to from elsewhere become anchors, as a
    /// fixpoint's `x` in `let x = f x; in x` (its value refers back to it).
    #[inline]
    pub(crate) fn released(&mut self, scope: &Env) {
        if !self.enabled {
            return;
        }
        let mut shared = Vec::new();
        shared_bindings(scope, &mut shared);
        for node in shared {
            self.push(node);
        }
    }

    fn push(&mut self, node: Node) {
        self.fresh += 1;
        self.anchors.push(node);
        if self.anchors.len() >= self.prune_at {
            self.prune();
        }
    }

    /// Drops the anchors nothing but the registry refers to any more, and
    /// thunks evaluated to a value that refers to nothing. A
    /// scope among them passes its shared bindings on as anchors
    /// ([`shared_bindings`]: a set in a `rec` scope whose attribute refers
    /// to the set makes a cycle that does not pass through the scope).
    fn prune(&mut self) {
        let mut passed = Vec::new();
        self.anchors.retain(|a| {
            if a.count() > 1 {
                // Forced since to a value that refers to nothing: no cycle.
                return !a.as_ref().is_leaf();
            }
            if let Node::Env(scope) = a {
                shared_bindings(scope, &mut passed);
            }
            false
        });
        self.anchors.append(&mut passed);
        self.prune_at = (self.anchors.len() * 2).max(MIN_PRUNE);
    }

    /// Whether enough anchors were added since the last collection (about
    /// as many as survived it) for the next: the cost stays proportional to
    /// the work that made them.
    pub(crate) fn due(&self) -> bool {
        self.anchors.len() >= self.collect_at || (self.eager && self.fresh > 0)
    }

    /// Counts `steps` more evaluation steps; whether a collection in the
    /// middle of the evaluation is due: four times as many anchors as the
    /// last one left (garbage is collected in proportion to the work that
    /// made it), and enough steps evaluated to pay for all the live objects
    /// walked so far and as many again as the last collection found.
    pub(crate) fn due_midway(&mut self, steps: u64) -> bool {
        self.steps += steps;
        if self.eager {
            return self.fresh > 0;
        }
        self.enabled
            && self.anchors.len() >= self.midway_at
            && self.steps / STEPS_PER_LIVE >= self.live_walked + self.last_alive
    }

    /// Runs the collector now (see the module documentation), with the
    /// permission of [`exclusive`]: `own` says whether the caller's
    /// evaluator is in the middle of an evaluation (`midway`).
    pub(crate) fn collect(&mut self, own: &Activity, midway: bool) -> Outcome {
        self.prune();
        // What was emptied is dropped once other evaluators may start again.
        let mut emptied = Emptied::default();
        let (outcome, alive) =
            exclusive(own, || self.trial_deletion(&mut emptied)).unwrap_or((Outcome::Busy, 0));
        drop(emptied);
        match outcome {
            Outcome::Collected(n) => {
                IN_PROCESS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.collections += 1;
                self.midway += u64::from(midway);
                self.emptied += n as u64;
            }
            Outcome::Abandoned => self.abandoned += 1,
            Outcome::Busy => {}
        }
        self.prune();
        let left = self.anchors.len();
        self.collect_at = (left * 2).max(left + MIN_COLLECT);
        self.midway_at = (left * 4).max(left + MIN_MIDWAY);
        self.last_alive = alive as u64;
        if midway {
            self.live_walked += alive as u64;
        }
        self.fresh = 0;
        outcome
    }

    /// Trial deletion over what the anchors reach; what it empties goes to
    /// `emptied`. Also returns how many objects it found alive.
    fn trial_deletion(&mut self, emptied: &mut Emptied) -> (Outcome, usize) {
        let anchors = std::mem::take(&mut self.anchors);
        let Some((keep, n, alive)) = find_and_empty_garbage(&anchors, emptied) else {
            self.anchors = anchors;
            return (Outcome::Abandoned, 0);
        };
        self.anchors = anchors
            .into_iter()
            .zip(keep)
            .filter_map(|(a, keep)| keep.then_some(a))
            .collect();
        (Outcome::Collected(n), alive)
    }
}

/// An object the collector empties, by its address (not by the place in a
/// cell where the walk found it: that place may be emptied first).
enum Garbage<'a> {
    Env(&'a Env),
    Thunk(&'a Thunk),
}

/// Walks from `anchors` and empties the scopes and thunks that are garbage
/// into `emptied`: which anchors to keep (the live ones, each once), how many
/// cells were emptied, and how many objects are alive; `None`, with nothing
/// emptied, if a count changed meanwhile.
fn find_and_empty_garbage(
    anchors: &[Node],
    emptied: &mut Emptied,
) -> Option<(Vec<bool>, usize, usize)> {
    // The graph borrows from the anchors, which keep everything it reaches
    // alive (nothing else runs meanwhile).
    let mut graph = Graph::with_capacity(anchors.len() * 4);
    let at: Vec<u32> = anchors.iter().map(|a| graph.add(a.as_ref())).collect();
    graph.walk();
    let first = graph.outside_references(true)?;
    let live = graph.mark_live(&first);
    if graph.outside_references(false).as_ref() != Some(&first) {
        return None;
    }
    let alive = live.iter().filter(|&&l| l).count();
    let mut kept = vec![false; graph.nodes.len()];
    let keep = at
        .iter()
        .map(|&i| live[i as usize] && !std::mem::replace(&mut kept[i as usize], true))
        .collect();
    // Every garbage object's address is taken before any cell is emptied:
    // the walk's references point into cells, the addresses at objects,
    // which stay allocated (what a cell held moves into `emptied`, which is
    // dropped after the collection).
    let garbage: Vec<Garbage<'_>> = graph
        .nodes
        .iter()
        .zip(&live)
        .filter_map(|(r, &l)| match r {
            _ if l => None,
            Ref::Env(e) => Some(Garbage::Env(e)),
            Ref::Thunk(t) => Some(Garbage::Thunk(t)),
            _ => None,
        })
        .collect();
    let before = emptied.values.len() + emptied.codes.len();
    for node in garbage {
        match node {
            Garbage::Env(scope) => {
                if let Some(cell) = scope.deferred_cell() {
                    // SAFETY: see `retract_value` below.
                    #[allow(unsafe_code)]
                    if let Some(slots) = unsafe { cell.retract() } {
                        emptied.values.push(Value::List(slots));
                    }
                }
            }
            Garbage::Thunk(t) => {
                // SAFETY: `retract` needs that no reference into the cell's
                // value is alive, now or later. Such references are made by
                // evaluation code, by embedders reading a value they hold,
                // and by this walk. No other evaluator evaluates
                // ([`exclusive`]). This evaluator's own evaluation, if one
                // is in progress, is stopped at a step (`step_slow`), and
                // every reference its frames hold is borrowed from an owned
                // one (a local, the evaluator's state, a claimed thunk's
                // code moved out of its cell), which counts as a reference
                // from outside: everything it reaches is alive. The same
                // holds for a value an embedder holds. This node is not
                // alive (both readings of the counts agree), so nothing can
                // reach it again either. Of the walk's references, only the
                // objects' addresses in `garbage` are used from here on:
                // they point at objects, not into cells, and each object
                // stays allocated (its owners are in cells not yet emptied
                // or in values moved into `emptied`, none dropped here).
                #[allow(unsafe_code)]
                let value = unsafe { t.retract_value() };
                match value {
                    Some(v) => emptied.values.push(v),
                    // Pending: its code goes (the cell is left running:
                    // nothing will force it). A running thunk has no code in
                    // its cell and is alive anyway (its claim borrows it).
                    None => emptied.codes.extend(t.abandon_code()),
                }
            }
        }
    }
    let n = emptied.values.len() + emptied.codes.len() - before;
    Some((keep, n, alive))
}

/// The bindings of `scope`, a deferred scope being freed, that something
/// else refers to too: each may sit in a cycle (a fixpoint's `x` in
/// `let x = f x; in x`, a `rec` set's `self = s`), and every cycle starts
/// at such a binding, so these are the anchors that take the scope's place.
fn shared_bindings(scope: &Env, out: &mut Vec<Node>) {
    let Some(slots) = scope.deferred_cell().and_then(|c| c.get()) else {
        return;
    };
    for v in slots.iter() {
        if let Value::Thunk(t) = v {
            // A thunk evaluated to a number or a string refers to nothing:
            // it is in no cycle, and never will be.
            if Arc::count(t) > 1 && !Ref::Thunk(t).is_leaf() {
                out.push(Node::Thunk(t.clone()));
            }
        }
    }
}

impl EvalState {
    /// Runs the cycle collector between top-level calls. The spare
    /// call scopes go first: they still point at the scopes of the last
    /// calls, which would count as references from outside.
    pub(crate) fn collect_cycles(&mut self) -> Outcome {
        self.spare_envs.clear();
        self.spare_env2s.clear();
        self.cycles.collect(&self.activity, false)
    }

    /// Runs the cycle collector in the middle of an evaluation, stopped at a
    /// step ([`EvalState::step`]): the frames of the evaluation hold owned
    /// references to all they use, which count as references from outside.
    #[cold]
    #[inline(never)]
    pub(crate) fn collect_cycles_midway(&mut self) -> Outcome {
        self.spare_envs.clear();
        self.spare_env2s.clear();
        self.cycles.collect(&self.activity, true)
    }

    /// A deferred scope's `let` (or call) is done: frees what only its own
    /// bindings kept, and tells the cycle collector what is left.
    #[inline]
    pub(crate) fn release_scope(&mut self, scope: Arc<Env>) {
        match Env::release_own_cycle(scope) {
            Released::Shared(scope) => self.cycles.register(scope),
            Released::Last(scope) => self.cycles.released(&scope),
        }
    }
}

/// Breaks the one cycle an evaluator makes for itself, `builtins.builtins`
/// (a thunk in the set whose value is the set), when the evaluator's
/// globals are dropped and nothing else refers to the set or the thunk:
/// each then has exactly the two references the globals hold (the thunk:
/// the set's entry and the name `builtins`; the set: the globals' field and
/// the thunk's value). Returns the value taken out, for the caller to drop.
pub(crate) fn break_builtins_cycle(globals: &crate::builtins::Globals) -> Option<Value> {
    let (Some(Value::Thunk(thunk)), attrs) = globals.self_reference() else {
        return None;
    };
    if Arc::count(thunk) != 2 || attrs.entries().ref_count() != 2 {
        return None;
    }
    // SAFETY: no reference into the thunk's value can be alive: a reference
    // is borrowed from an owner of the thunk or of the set, and the counts
    // show that the only owners are the globals being dropped, which nothing
    // else reads any more (the caller holds the last reference to them). Nor
    // can another thread make a new owner: it would need one to clone from.
    #[allow(unsafe_code)]
    unsafe {
        thunk.retract_value()
    }
}

/// An anchor: a scope or a thunk, one reference of the registry's own.
enum Node {
    Env(Arc<Env>),
    Thunk(Arc<Thunk>),
}

/// A reference an object holds, borrowed for as long as the walk's graph
/// lives (the anchors keep the object alive).
#[derive(Clone, Copy)]
enum Ref<'a> {
    Env(&'a Arc<Env>),
    Thunk(&'a Arc<Thunk>),
    Closure(&'a Arc<Closure>),
    PrimOpApp(&'a Arc<PrimOpApp>),
    Values(&'a SharedSlice<Value>),
    Attrs(&'a SharedSlice<Attr>),
    /// Code other than an expression, shared by the thunks of one `map`,
    /// `mapAttrs` or `genList` (or one thunk's own).
    Code(&'a Arc<OtherCode>),
    /// What one `zipAttrsWith`'s entries share (the function, each name's
    /// values).
    Zip(&'a Arc<crate::thunk::ZipEntries>),
    MapList(&'a Arc<(Value, Pos, List)>),
    MapAttrs(&'a Arc<(Value, Pos, crate::value::Attrs)>),
}

impl<'a> Ref<'a> {
    /// References to the object.
    fn count(self) -> usize {
        match self {
            Ref::Env(a) => Arc::count(a),
            Ref::Thunk(a) => Arc::count(a),
            Ref::Closure(a) => Arc::count(a),
            Ref::PrimOpApp(a) => Arc::count(a),
            Ref::Values(s) => s.ref_count(),
            Ref::Attrs(s) => s.ref_count(),
            Ref::Code(a) => Arc::count(a),
            Ref::Zip(a) => Arc::count(a),
            Ref::MapList(a) => Arc::count(a),
            Ref::MapAttrs(a) => Arc::count(a),
        }
    }

    /// The objects this one holds a reference to, each as often as held,
    /// borrowed for as long as this one is.
    ///
    /// Only while no evaluation runs (or this evaluator's is stopped at a
    /// step): a pending thunk's code is read without claiming it.
    fn children(self, out: &mut Sink<'a, '_>) {
        match self {
            Ref::Env(e) => e.visit_refs(&mut |r| match r {
                EnvRef::Value(v) => value_ref(v, out),
                EnvRef::Env(env) => env_ref(env, out),
                EnvRef::Slots(slots) => slice_ref(slots, out),
            }),
            Ref::Thunk(t) => match t.get() {
                Some(v) => value_ref(v, out),
                None => {
                    // SAFETY: nothing forces or drops the thunk while the
                    // graph lives: no other evaluator evaluates, this one's
                    // evaluation (if any) is stopped at a step (see the
                    // module documentation), and the anchors hold everything
                    // the walk reaches.
                    #[allow(unsafe_code)]
                    if let Some(code) = unsafe { t.pending_code() } {
                        code_refs(code, out);
                    }
                }
            },
            Ref::Closure(c) => env_ref(&c.env, out),
            Ref::PrimOpApp(p) => p.args.iter().for_each(|v| value_ref(v, out)),
            Ref::Values(s) => s.iter().for_each(|v| value_ref(v, out)),
            Ref::Attrs(s) => s.iter().for_each(|a| value_ref(&a.value, out)),
            Ref::Code(a) => other_code_refs(a, out),
            Ref::Zip(a) => {
                value_ref(&a.0, out);
                a.2.iter().for_each(|(_, values)| slice_ref(values, out));
            }
            Ref::MapList(a) => {
                value_ref(&a.0, out);
                slice_ref(&a.2, out);
            }
            Ref::MapAttrs(a) => {
                value_ref(&a.0, out);
                attrs_ref(&a.2, out);
            }
        }
    }

    /// Whether the object refers to nothing the walk follows (a thunk
    /// evaluated to a number, a list of strings): it cannot be in a cycle
    /// and leads nowhere, so the walk skips it, which leaves most of a heap
    /// out of the graph.
    fn is_leaf(self) -> bool {
        match self {
            Ref::Thunk(t) => match t.get() {
                Some(v) => !is_container(v),
                None => t.has_failed(),
            },
            Ref::Values(s) => s.iter().all(is_leaf_item),
            Ref::Attrs(s) => s.iter().all(|a| is_leaf_item(&a.value)),
            _ => false,
        }
    }

    fn addr(self) -> usize {
        match self {
            Ref::Env(a) => Arc::as_ptr(a) as usize,
            Ref::Thunk(a) => Arc::as_ptr(a) as usize,
            Ref::Closure(a) => Arc::as_ptr(a) as usize,
            Ref::PrimOpApp(a) => Arc::as_ptr(a) as usize,
            Ref::Values(s) => s.addr(),
            Ref::Attrs(s) => s.addr(),
            Ref::Code(a) => Arc::as_ptr(a) as usize,
            Ref::Zip(a) => Arc::as_ptr(a) as usize,
            Ref::MapList(a) => Arc::as_ptr(a) as usize,
            Ref::MapAttrs(a) => Arc::as_ptr(a) as usize,
        }
    }
}

/// Receives the references an object holds.
type Sink<'a, 's> = dyn FnMut(Ref<'a>) + 's;

impl Node {
    fn as_ref(&self) -> Ref<'_> {
        match self {
            Node::Env(a) => Ref::Env(a),
            Node::Thunk(a) => Ref::Thunk(a),
        }
    }

    /// References to the object (the registry's included).
    fn count(&self) -> usize {
        match self {
            Node::Env(a) => Arc::count(a),
            Node::Thunk(a) => Arc::count(a),
        }
    }
}

/// Whether a value holds references the walk follows.
fn is_container(v: &Value) -> bool {
    match v {
        Value::Attrs(a) => !a.entries().is_empty(),
        Value::List(l) => !l.is_empty(),
        Value::Lambda(_) | Value::PrimOpApp(_) | Value::Thunk(_) => true,
        _ => false,
    }
}

/// An item of a list or set that is a leaf: not a container, or a thunk
/// evaluated to one that is not.
fn is_leaf_item(v: &Value) -> bool {
    match v {
        Value::Thunk(t) => t.get().is_some_and(|v| !is_container(v)),
        v => !is_container(v),
    }
}

fn env_ref<'a>(env: &'a Arc<Env>, out: &mut Sink<'a, '_>) {
    // The marker is shared by every evaluator; it holds nothing.
    if !Env::is_marker(env) {
        out(Ref::Env(env));
    }
}

fn slice_ref<'a>(s: &'a SharedSlice<Value>, out: &mut Sink<'a, '_>) {
    // Empty slices are one shared allocation per process, holding nothing.
    if !s.is_empty() {
        out(Ref::Values(s));
    }
}

fn attrs_ref<'a>(a: &'a crate::value::Attrs, out: &mut Sink<'a, '_>) {
    if !a.entries().is_empty() {
        out(Ref::Attrs(a.entries()));
    }
}

fn value_ref<'a>(v: &'a Value, out: &mut Sink<'a, '_>) {
    match v {
        Value::Attrs(a) => attrs_ref(a, out),
        Value::List(l) => slice_ref(l, out),
        Value::Lambda(c) => out(Ref::Closure(c)),
        Value::PrimOpApp(p) => out(Ref::PrimOpApp(p)),
        Value::Thunk(t) => out(Ref::Thunk(t)),
        Value::Null
        | Value::Bool(_)
        | Value::Int(_)
        | Value::Float(_)
        | Value::String(_)
        | Value::Path(_)
        | Value::PrimOp(_) => {}
    }
}

fn code_refs<'a>(code: &'a Code, out: &mut Sink<'a, '_>) {
    match code {
        Code::Expr(_, env) => env_ref(env, out),
        Code::Other(other) => out(Ref::Code(other)),
    }
}

fn other_code_refs<'a>(code: &'a OtherCode, out: &mut Sink<'a, '_>) {
    match code {
        OtherCode::SelectFromSet(attrs, _) => attrs_ref(attrs, out),
        OtherCode::SelectFromThunk(t, _) => out(Ref::Thunk(t)),
        OtherCode::SelectFromValue(b) => value_ref(&b.0, out),
        OtherCode::Call(b) => {
            value_ref(&b.0, out);
            b.1.iter().for_each(|v| value_ref(v, out));
        }
        OtherCode::Call1(b) => {
            value_ref(&b.0, out);
            value_ref(&b.1, out);
        }
        OtherCode::CallIndex(f, _) => value_ref(f, out),
        OtherCode::MapList(a) => out(Ref::MapList(a)),
        OtherCode::MapAttrs(a) => out(Ref::MapAttrs(a)),
        OtherCode::ZipAttrs(a) => out(Ref::Zip(a)),
    }
}

/// The objects reachable from the candidates, each once, and the
/// references among them.
#[derive(Default)]
struct Graph<'a> {
    nodes: Vec<Ref<'a>>,
    index: HashMap<usize, u32, foldhash::fast::RandomState>,
    /// References to each node from other nodes (and from the registry).
    inside: Vec<u32>,
    /// Each node's reference count, read when the walk found it (its object
    /// is in the cache then).
    counts: Vec<usize>,
    /// Each node's children: `edges[edge_start[i]..edge_start[i + 1]]`.
    edges: Vec<u32>,
    edge_start: Vec<u32>,
}

impl<'a> Graph<'a> {
    /// An empty graph with room for about `n` objects.
    fn with_capacity(n: usize) -> Self {
        Graph {
            index: HashMap::with_capacity_and_hasher(n, Default::default()),
            ..Graph::default()
        }
    }

    /// Adds `node`, an anchor, as a starting point of the walk; the
    /// registry's reference to it counts as one from inside the graph (an
    /// anchor registered twice has two). Returns its index.
    fn add(&mut self, node: Ref<'a>) -> u32 {
        let next = self.nodes.len() as u32;
        let i = *self.index.entry(node.addr()).or_insert(next);
        if i == next {
            self.push(node);
        }
        self.inside[i as usize] += 1;
        i
    }

    fn push(&mut self, node: Ref<'a>) {
        self.nodes.push(node);
        self.inside.push(0);
        self.counts.push(node.count());
    }

    /// Counts one more reference to the object `r` points to, adding it
    /// the first time; `None` for a leaf, which the walk leaves out.
    fn add_child(&mut self, r: Ref<'a>) -> Option<u32> {
        if r.is_leaf() {
            return None;
        }
        let next = self.nodes.len() as u32;
        let i = *self.index.entry(r.addr()).or_insert(next);
        if i == next {
            self.push(r);
        }
        self.inside[i as usize] += 1;
        Some(i)
    }

    /// Walks from the nodes added so far, breadth first (no recursion:
    /// chains can be millions long).
    fn walk(&mut self) {
        let mut next = 0;
        while next < self.nodes.len() {
            let parent = self.nodes[next];
            self.edge_start.push(self.edges.len() as u32);
            parent.children(&mut |r| {
                if let Some(j) = self.add_child(r) {
                    self.edges.push(j);
                }
            });
            next += 1;
        }
        self.edge_start.push(self.edges.len() as u32);
    }

    /// Per node, the references from outside the graph and the registry,
    /// from the counts read during the walk (`walked`) or read now; `None`
    /// if a count is below what they hold (it changed under the walk).
    fn outside_references(&self, walked: bool) -> Option<Vec<usize>> {
        self.nodes
            .iter()
            .zip(&self.inside)
            .zip(&self.counts)
            .map(|((n, &inside), &count)| {
                let count = if walked { count } else { n.count() };
                count.checked_sub(inside as usize)
            })
            .collect()
    }

    /// Which nodes are reachable from one referred to from outside.
    fn mark_live(&self, outside: &[usize]) -> Vec<bool> {
        let mut live = vec![false; self.nodes.len()];
        let mut stack: Vec<u32> = Vec::new();
        for (i, &n) in outside.iter().enumerate() {
            if n > 0 {
                live[i] = true;
                stack.push(i as u32);
            }
        }
        while let Some(i) = stack.pop() {
            let (a, b) = (self.edge_start[i as usize], self.edge_start[i as usize + 1]);
            for &j in &self.edges[a as usize..b as usize] {
                if !live[j as usize] {
                    live[j as usize] = true;
                    stack.push(j);
                }
            }
        }
        live
    }
}
