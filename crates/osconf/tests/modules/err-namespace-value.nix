# A value given to a set of options.
[
  ({ lib, ... }: { options.server.port = lib.mkOption { type = lib.types.int; default = 0; }; })
  { _file = "flat.nix"; server = 8080; }
]
