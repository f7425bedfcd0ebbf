# Lists written straight into their allocation (genList, map, `++`, tail,
# sort of integers, attrNames, attrValues): contents, order and laziness.
let
  xs = builtins.genList (i: i * 3 - 7) 9;
  ys = map (x: x * 2) xs;
  lazy = builtins.genList (i: if i == 2 then throw "not forced" else i) 4;
  s = { b = 2; a = 1; c = [ 3 ]; };
in
{
  inherit xs ys;
  cat = [ 1 ] ++ xs ++ [ ] ++ [ "z" ];
  catEmpty = [ ] ++ [ ];
  catLeft = builtins.length (xs ++ [ ]);
  tail = builtins.tail xs;
  tailOne = builtins.tail [ 1 ];
  sorted = builtins.sort builtins.lessThan (ys ++ xs);
  names = builtins.attrNames s;
  values = builtins.attrValues s;
  lazyLength = builtins.length (lazy ++ builtins.tail lazy);
  lazyHead = builtins.head (builtins.tail (builtins.tail (builtins.tail lazy)));
}
