# A number where a module belongs.
[
  ({ lib, ... }: { options.a = lib.mkOption { type = lib.types.int; default = 0; }; })
  42
]
