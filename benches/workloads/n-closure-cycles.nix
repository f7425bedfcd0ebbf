# (n) scopes kept alive by a function closing over its own scope: each `let`
# below binds a local recursive function `go`; a closure over the scope that
# holds it makes a reference cycle. nixkit stores such a binding closing over
# a marker and binds the scope when the variable is read, so no cycle is made
# (see crates/eval/PERFORMANCE.md, "Seventh pass"). Memory is the figure to
# watch here.
builtins.foldl' (acc: i: acc + (let go = n: if n == 0 then i else go (n - 1); in go 2)) 0 (builtins.genList (x: x) 1000000)
