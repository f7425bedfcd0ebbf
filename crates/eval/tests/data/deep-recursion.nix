# 10,000-deep non-tail recursion and a 1,000,000-element strict fold.
let
  sum = n: if n == 0 then 0 else n + sum (n - 1);
in
[
  (sum 9000)
  (builtins.foldl' (a: b: a + b) 0 (builtins.genList (x: x) 1000000))
]
