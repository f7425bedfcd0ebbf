# (i) `//` chains: overlays layered 500 deep on a 2,000-attribute set.
let
  base = builtins.listToAttrs (builtins.genList (i: { name = "p${toString i}"; value = i; }) 2000);
  overlays = builtins.genList (k: final: prev: { "p${toString k}" = prev."p${toString k}" + 1; "o${toString k}" = k; }) 500;
  fix = f: let x = f x; in x;
  result = fix (self: builtins.foldl' (acc: o: acc // o self acc) base overlays);
in
builtins.foldl' (acc: v: acc + v) 0 (builtins.attrValues result)
