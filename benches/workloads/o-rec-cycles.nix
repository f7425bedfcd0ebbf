# (o) scopes kept alive by a function closing over its own scope in a `rec`
# set: each iteration builds `rec { go = …; }`; a `go` that refers to the
# set's scope while the scope holds it makes a reference cycle. nixkit keeps
# the closure over the scope in the set's attribute only, and stores `go` in
# the scope closing over a marker (see crates/eval/PERFORMANCE.md, "Seventh
# pass"). Memory is the figure to watch.
builtins.foldl' (acc: i: acc + (rec { go = n: if n == 0 then i else go (n - 1); }).go 2) 0 (builtins.genList (x: x) 1000000)
