# mkIf false removes an attribute of attrsOf; mkIf around the whole set too.
[
  ({ lib, ... }: { options.env = lib.mkOption { type = lib.types.attrsOf lib.types.int; }; })
  ({ lib, ... }: { env = { a = 1; b = lib.mkIf false 2; c = lib.mkIf true 3; }; })
  ({ lib, ... }: { env = lib.mkIf false { d = 4; }; })
  ({ lib, ... }: { env = lib.mkIf true { e = 5; }; })
]
