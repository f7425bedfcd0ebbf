//! The evaluation step budget and the cancellation poll: every function call
//! and every thunk forced counts one step; the cycle collector runs at a
//! step when enough of them paid for it.

use std::sync::atomic::Ordering;

use crate::error::{ErrorKind, EvalError, EvalResult};
use crate::eval::EvalState;

/// Steps between two polls of the cancellation flag.
const STEP_CHUNK: u64 = 1024;

impl EvalState {
    /// Counts one evaluation step (a function call or a thunk forced):
    /// a single decrement and test. Every [`STEP_CHUNK`] steps (and when the
    /// budget runs out) the slow path polls the cancellation flag and
    /// charges the step budget.
    #[inline(always)]
    pub(crate) fn step(&mut self) -> EvalResult<()> {
        if self.step_countdown > 0 {
            self.step_countdown -= 1;
            return Ok(());
        }
        self.step_slow()
    }

    #[cold]
    #[inline(never)]
    fn step_slow(&mut self) -> EvalResult<()> {
        if let Some(c) = &self.cancel {
            if c.load(Ordering::Relaxed) {
                return Err(EvalError::new(ErrorKind::Cancelled, "evaluation cancelled"));
            }
        }
        let every = self.settings.collect_cycles_every.unwrap_or(STEP_CHUNK);
        let chunk = match &mut self.steps_left {
            None => every.min(STEP_CHUNK),
            Some(0) => {
                return Err(EvalError::new(
                    ErrorKind::StepLimit,
                    "evaluation step limit exceeded",
                ));
            }
            Some(left) => {
                let chunk = (*left).min(every.min(STEP_CHUNK));
                *left -= chunk;
                chunk
            }
        };
        // This step is the first of the new chunk.
        self.step_countdown = chunk - 1;
        // A step is a point where the evaluation holds owned references to
        // all it uses: the cycle collector may run here (`cycles.rs`).
        if self.cycles.due_midway(chunk) {
            self.collect_cycles_midway();
        }
        Ok(())
    }

    /// Sets the remaining step budget (`None`: unlimited).
    pub(crate) fn set_step_budget(&mut self, steps: Option<u64>) {
        self.steps_left = steps;
        self.step_countdown = 0;
    }

    /// Steps left in the budget, if there is one.
    pub(crate) fn steps_remaining(&self) -> Option<u64> {
        self.steps_left.map(|left| left + self.step_countdown)
    }
}
