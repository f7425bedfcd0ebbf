# types.attrs merges sets shallowly, later definitions winning.
[
  ({ lib, ... }: { options.a = lib.mkOption { type = lib.types.attrs; default = { }; }; })
  { a = { x = 1; y = { p = 1; }; }; }
  { a = { y = { q = 2; }; z = 3; }; }
]
