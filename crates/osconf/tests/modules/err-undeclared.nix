# A definition of an option nobody declared.
[
  ({ lib, ... }: { options.a.b = lib.mkOption { type = lib.types.int; default = 1; }; })
  ./parts/defines-undeclared.nix
]
