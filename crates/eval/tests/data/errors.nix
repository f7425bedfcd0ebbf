# Errors caught by tryEval, and the ones it lets through.
[
  (builtins.tryEval (throw "x")).success
  (builtins.tryEval (assert false; 1)).success
  (builtins.tryEval 42).value
]
