# (n) scopes kept alive by a function closing over its own scope: each `let`
# below binds a local recursive function `go`, whose closure refers to the
# scope that holds it (a reference cycle through an evaluated value). Unlike
# the unforced bindings of `m-let-cycles`, nixkit does not release these
# (see crates/eval/PERFORMANCE.md, "What remains"). Memory is the figure to
# watch here.
builtins.foldl' (acc: i: acc + (let go = n: if n == 0 then i else go (n - 1); in go 2)) 0 (builtins.genList (x: x) 1000000)
