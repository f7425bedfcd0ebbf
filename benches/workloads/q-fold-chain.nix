# Deep chains of thunks, as a fold leaves them: nixpkgs lib's recursiveUpdate
# (written out, as in lib/attrsets.nix) folded over 6,000 one-path sets and then
# forced, which recurses once per fold step; and 60 chains of 5,000 `head`
# thunks. The cost per level is the evaluator's stack per level (PERFORMANCE.md,
# "Eleventh pass").
let
  inherit (builtins) zipAttrsWith length elemAt head isAttrs foldl' genList;
  recursiveUpdateUntil = pred: lhs: rhs:
    let
      f = attrPath:
        zipAttrsWith (n: values:
          let here = attrPath ++ [ n ]; in
          if length values == 1 || pred here (elemAt values 1) (head values)
          then head values
          else f here values);
    in
    f [ ] [ rhs lhs ];
  recursiveUpdate = recursiveUpdateUntil (path: lhs: rhs: !(isAttrs lhs && isAttrs rhs));
  mod = a: b: a - a / b * b;
  folded = foldl' recursiveUpdate { }
    (genList (i: { "a${toString (mod i 50)}" = { "b${toString (mod i 7)}" = i; }; }) 6000);
  chain = s: foldl' (acc: i: [ (head acc) ]) [ s ] (genList (x: x) 5000);
  heads = foldl' (t: s: t + head (chain s)) 0 (genList (x: x) 60);
in
{
  folded = foldl' (t: a: t + foldl' (u: b: u + folded.${a}.${b}) 0 (builtins.attrNames folded.${a})) 0
    (builtins.attrNames folded);
  inherit heads;
}
