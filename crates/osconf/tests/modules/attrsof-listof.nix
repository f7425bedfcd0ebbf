# attrsOf of listOf of attrsOf: merges all the way down.
[
  ({ lib, ... }: { options.m = lib.mkOption { type = lib.types.attrsOf (lib.types.listOf (lib.types.attrsOf lib.types.int)); }; })
  { m.x = [ { a = 1; } ]; m.y = [ ]; }
  { m.x = [ { b = 2; } ]; }
]
