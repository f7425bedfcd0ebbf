# Scaling copy of ../shared/bench/d-lists.nix (list-heavy): genList, map,
# filter, sort, elem, concatLists, foldl' over lists of n = 400k x scale.
# The elem probe list grows with scale while the searched list stays at 20k,
# so every part is linear (sort: n log n). `scale = 1` reproduces d-lists exactly.
# Usage: nixkit instantiate --eval --strict --arg scale 4 lists.nix
{ scale ? 1 }:
let
  n = 400000 * scale;
  mod = a: b: a - a / b * b;
  xs = builtins.genList (i: mod (i * 7919) 100003) n;
  ys = map (x: x * 2 + 1) xs;
  evens = builtins.filter (x: mod x 2 == 0) xs;
  sorted = builtins.sort builtins.lessThan xs;
  probe = builtins.genList (i: i * 37) (1000 * scale);
  small = builtins.genList (i: mod (i * 31) 5000) 20000;
  elemHits = builtins.length (builtins.filter (p: builtins.elem p small) probe);
  pairs = builtins.concatLists (builtins.genList (i: [ i (i + 1) ]) (50000 * scale));
  sum = builtins.foldl' (a: b: a + b) 0 ys;
  anyBig = builtins.any (x: x > 100000) xs;
  allPos = builtins.all (x: x >= 0) xs;
in
{
  inherit sum elemHits anyBig allPos;
  evens = builtins.length evens;
  first = builtins.head sorted;
  last = builtins.elemAt sorted (n - 1);
  mid = builtins.elemAt sorted (n / 2);
  pairs = builtins.length pairs;
}
