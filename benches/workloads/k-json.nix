# (k) JSON round trips of a nested structure.
let
  doc = i: { id = i; name = "item-${toString i}"; tags = [ "a" "b" (toString i) ]; nested = { x = i * 2; y = [ i { z = true; } ]; f = 1.5; }; };
  docs = builtins.genList doc 5000;
  text = builtins.toJSON docs;
  back = builtins.fromJSON text;
in
{
  size = builtins.stringLength text;
  same = back == docs;
  sum = builtins.foldl' (acc: d: acc + d.nested.x) 0 back;
}
