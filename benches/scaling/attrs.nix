# Scaling copy of ../shared/bench/b-attrs.nix (attrset-heavy): listToAttrs of
# n = 100k x scale, mapAttrs, //, foldl' with // (20k x scale updates into a set
# of at most 1000 keys), many lookups. `scale = 1` reproduces b-attrs exactly.
# Usage: nixkit instantiate --eval --strict --arg scale 4 attrs.nix
{ scale ? 1 }:
let
  n = 100000 * scale;
  names = builtins.genList (i: "k${toString i}") n;
  big = builtins.listToAttrs (map (k: { name = k; value = builtins.stringLength k; }) names);
  doubled = builtins.mapAttrs (k: v: v * 2) big;
  # update with an overlapping set (half the keys)
  half = builtins.listToAttrs (builtins.genList (i: { name = "k${toString (i * 2)}"; value = 0; }) (n / 2));
  merged = big // half;
  # incremental // in a fold: 20k x scale updates into a set of up to 1000 keys
  folded = builtins.foldl'
    (acc: i: acc // { "m${toString (i - i / 1000 * 1000)}" = i; })
    { } (builtins.genList (i: i) (20000 * scale));
  # 3 lookups per key
  sumBig = builtins.foldl' (acc: k: acc + big.${k} + doubled.${k} + merged.${k}) 0 names;
  hasCount = builtins.length (builtins.filter (k: half ? ${k}) names);
  inter = builtins.length (builtins.attrNames (builtins.intersectAttrs half doubled));
  removed = builtins.length (builtins.attrNames (builtins.removeAttrs big (builtins.genList (i: "k${toString (i * 3)}") (n / 3))));
in
{
  inherit sumBig hasCount inter removed;
  foldedSize = builtins.length (builtins.attrNames folded);
  foldedSum = builtins.foldl' (a: v: a + v) 0 (builtins.attrValues folded);
}
