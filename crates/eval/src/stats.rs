//! Evaluation counters (`NIXKIT_SHOW_STATS=1`) and the cheap stack guard.
//!
//! The counters are plain integers in [`Cell`]s owned by the evaluator: an
//! increment is one add on memory the evaluator touches anyway, with no
//! atomic operation (a `Cell` is `Send`, so the evaluator stays `Send`).
//! [`Stats::to_json`] prints them under CppNix's names where one exists
//! (`nrFunctionCalls`, `nrThunks`, …) so the outputs of `NIX_SHOW_STATS`
//! and `NIXKIT_SHOW_STATS` can be compared side by side.

use std::cell::Cell;
use std::fmt::Write;

/// Counters of one evaluator.
#[derive(Debug, Default)]
pub struct Stats {
    /// Calls of Nix functions (lambdas).
    pub(crate) function_calls: Cell<u64>,
    /// Calls of builtins (complete applications).
    pub(crate) primop_calls: Cell<u64>,
    /// Arithmetic builtin calls answered inline (`a - b` on integers, …).
    pub(crate) arith_inline: Cell<u64>,
    /// Thunks allocated.
    pub(crate) thunks: Cell<u64>,
    /// Thunks not allocated because the value was already known (constants,
    /// evaluated variables, functions): CppNix's `nrAvoided`.
    pub(crate) thunks_avoided: Cell<u64>,
    /// Environments (scopes) allocated.
    pub(crate) envs: Cell<u64>,
    /// Slots in those environments.
    pub(crate) env_slots: Cell<u64>,
    /// Attribute sets built by the evaluator (literals, `//`).
    pub(crate) attrsets: Cell<u64>,
    /// Attribute lookups (`a.b`, `a ? b`).
    pub(crate) lookups: Cell<u64>,
    /// `//` operations.
    pub(crate) updates: Cell<u64>,
    /// Attributes copied by `//`.
    pub(crate) update_copies: Cell<u64>,
    /// List literals and `++` results.
    pub(crate) lists: Cell<u64>,
    /// Elements in those lists.
    pub(crate) list_elems: Cell<u64>,
    /// Current depth of guarded recursion (see [`Stats::stack_depth`]).
    pub(crate) depth: Cell<u32>,
}

/// Adds `n` to a counter.
#[inline(always)]
pub(crate) fn bump(c: &Cell<u64>, n: u64) {
    c.set(c.get().wrapping_add(n));
}

impl Stats {
    /// The counters as a JSON object (CppNix's names where they exist);
    /// `cpu_seconds` is added as `cpuTime`.
    pub fn to_json(&self, cpu_seconds: f64) -> String {
        let fields: [(&str, u64); 13] = [
            ("nrFunctionCalls", self.function_calls.get()),
            ("nrPrimOpCalls", self.primop_calls.get()),
            ("nrArithInline", self.arith_inline.get()),
            ("nrThunks", self.thunks.get()),
            ("nrAvoided", self.thunks_avoided.get()),
            ("nrEnvs", self.envs.get()),
            ("nrEnvSlots", self.env_slots.get()),
            ("nrAttrsets", self.attrsets.get()),
            ("nrLookups", self.lookups.get()),
            ("nrOpUpdates", self.updates.get()),
            ("nrOpUpdateValuesCopied", self.update_copies.get()),
            ("nrLists", self.lists.get()),
            ("nrListElems", self.list_elems.get()),
        ];
        let mut out = String::from("{\n");
        let _ = writeln!(out, "  \"cpuTime\": {cpu_seconds:.3},");
        for (i, (name, value)) in fields.iter().enumerate() {
            let comma = if i + 1 < fields.len() { "," } else { "" };
            let _ = writeln!(out, "  \"{name}\": {value}{comma}");
        }
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    /// The memory budget of the hot types (see PERFORMANCE.md): a thunk's
    /// allocation is 16 bytes of reference counts plus the `Thunk`, an
    /// environment's likewise.
    #[test]
    fn hot_types_stay_small() {
        assert!(std::mem::size_of::<crate::thunk::Thunk>() <= 48);
        assert!(std::mem::size_of::<crate::thunk::Env>() <= 48);
        assert!(std::mem::size_of::<crate::thunk::Code>() <= 24);
        assert!(std::mem::size_of::<crate::value::Value>() <= 24);
    }

    #[test]
    fn stats_json_names_counters() {
        let s = super::Stats::default();
        super::bump(&s.function_calls, 3);
        let j = s.to_json(0.5);
        assert!(j.contains("\"nrFunctionCalls\": 3"));
        assert!(j.contains("\"cpuTime\": 0.500"));
    }
}
