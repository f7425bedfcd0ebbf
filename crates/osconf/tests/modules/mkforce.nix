# mkForce wins over plain definitions and mkDefault; several forces merge.
[
  ({ lib, ... }: {
    options.a = lib.mkOption { type = lib.types.int; };
    options.xs = lib.mkOption { type = lib.types.listOf lib.types.int; };
  })
  { a = 1; xs = [ 1 ]; }
  ({ lib, ... }: { a = lib.mkForce 2; xs = lib.mkForce [ 2 ]; })
  ({ lib, ... }: { a = lib.mkDefault 3; xs = lib.mkForce [ 3 ]; })
]
