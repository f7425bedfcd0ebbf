# Thunks are forced at most once, unused ones never; `or`, `?`, `with`, rec.
let
  attrs = rec { a = 1; b = a + 1; c = throw "never forced"; };
  f = { x, y ? x * 2, ... }@args: [ x y (args ? z) ];
in
with attrs;
{
  inherit a b;
  sel = attrs.missing.deep or "default";
  has = attrs ? c;
  call = f { x = 3; z = null; };
  functor = { __functor = self: n: n + self.k; k = 10; } 5;
  str = "${toString b}-${toString 1.5}";
  float = [ (1.0 / 3) 1.0e10 0.000012 ];
}
