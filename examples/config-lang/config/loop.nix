# 10^8 additions without deep recursion: the step budget stops it.
let l = builtins.genList (x: x) 10000; in
builtins.foldl' (a: i: builtins.foldl' (b: j: b + j) a l) 0 l
