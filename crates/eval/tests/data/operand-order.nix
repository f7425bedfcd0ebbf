# Arithmetic builtins force both operands, left first, before checking types
# or a zero divisor; partition forces every element; compareVersions reads a
# component as a number only if it fits a C int. Each case's expected value
# is CppNix's (tryEval catches the throw that CppNix reaches first; a type or
# division error reached first instead would not be caught).
[
  (builtins.tryEval ("a" - (throw "x"))).success
  (builtins.tryEval ("a" * (throw "x"))).success
  (builtins.tryEval (builtins.add "a" (throw "x"))).success
  (builtins.tryEval ((throw "x") / 0)).success
  (builtins.tryEval (builtins.div 1 (throw "x"))).success
  (builtins.tryEval (builtins.length (builtins.partition (x: true) [ (throw "e") ]).right)).success
  (builtins.partition (x: x > 1) [ 1 2 3 ])
  (builtins.compareVersions "1" "1099511627776")
  (builtins.compareVersions "1099511627776" "1")
  (builtins.compareVersions "2147483647" "2147483648")
  (builtins.compareVersions "2147483646" "2147483647")
  (builtins.compareVersions "1.2.3" "1.10")
  (7 - 2.5)
  (6 * 7)
]
