//! An error raised at the bottom of a long chain of thunks is memoised by
//! every thunk on the way up. That must stay linear in the depth: it used to
//! copy the whole trace at each level (quadratic memory, an out-of-memory
//! kill instead of CppNix's "max-call-depth exceeded" error).
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use nixkit_eval::cli::{parse_args, run, CliEnv};

#[test]
fn deep_chain_of_failing_thunks_fails_cleanly() {
    // Each element depends on the previous one; forcing the last one first
    // recurses 20,000 levels deep, past the call-depth limit.
    let expr = "let n = 20000; xs = builtins.genList (i: if i == 0 then 0 else builtins.elemAt xs (i - 1) + 1) n; \
                in [ (builtins.elemAt xs (n - 1)) (builtins.elemAt xs (n - 2)) (builtins.elemAt xs (n - 3)) ]";
    let opts = parse_args(&["--eval", "--strict", "-E", expr]).unwrap();
    let (status, err) = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let (mut out, mut err) = (String::new(), String::new());
            let status = run(&opts, &CliEnv::new("/"), &mut out, &mut err);
            (status, err)
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(status, 1);
    assert!(err.contains("max-call-depth"), "{err}");
}
