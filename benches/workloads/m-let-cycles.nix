# (m) scopes kept alive by their own unused bindings: each `let` below binds
# `a` and `b` but its body never uses them, so their pending thunks refer to
# the scope that holds them (a reference cycle). A collector frees these
# scopes; reference counting alone keeps them, so nixkit breaks the cycle when
# the `let` is done and nothing else refers to the scope (see
# crates/eval/PERFORMANCE.md, "Seventh pass"). Memory is the figure to watch.
builtins.foldl' (acc: i: acc + (let a = i + 1; b = a; in i)) 0 (builtins.genList (x: x) 1000000)
