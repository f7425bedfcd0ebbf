# mkIf and mkOverride around a namespace are pushed down onto its options.
[
  ({ lib, ... }: {
    options.svc.enable = lib.mkOption { type = lib.types.bool; default = false; };
    options.svc.port = lib.mkOption { type = lib.types.int; default = 1; };
    options.svc.name = lib.mkOption { type = lib.types.str; default = "none"; };
  })
  ({ lib, ... }: { svc = lib.mkIf true { enable = true; port = 2; }; })
  ({ lib, ... }: { svc = lib.mkIf false { name = "never"; }; })
  ({ lib, ... }: { svc = lib.mkForce { port = 3; }; })
]
