# An undeclared top-level option in a module naming its file.
[
  ({ lib, ... }: { options.x = lib.mkOption { type = lib.types.int; }; })
  { _file = "machine.nix"; x = 1; y = true; }
]
