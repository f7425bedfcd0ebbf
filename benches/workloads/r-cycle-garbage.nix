# Cyclic garbage made all along one evaluation: 200,000 small fixpoints and
# `rec` sets naming themselves, each dropped once its answer is read. An
# evaluator that frees cycles only at the end holds all of them until then.
let
  fix = f: let x = f x; in x;
  one = i:
    (fix (self: { a = i; b = self.a + 1; up = self; })).up.b
    + (let s = rec { n = i; self = s; twice = s.self.n * 2; }; in s.twice);
in
builtins.foldl' (acc: i: acc + one i) 0 (builtins.genList (i: i) 200000)
