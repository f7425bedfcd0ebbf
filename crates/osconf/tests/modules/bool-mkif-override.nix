# mkIf inside mkForce at an option (pushed down), and mkDefault in a false mkIf.
[
  ({ lib, ... }: {
    options.a = lib.mkOption { type = lib.types.bool; default = false; };
    options.b = lib.mkOption { type = lib.types.int; default = 0; };
  })
  ({ lib, ... }: { config = lib.mkForce { a = true; }; })
  ({ lib, ... }: { a = false; b = lib.mkIf false (lib.mkDefault 5); })
]
