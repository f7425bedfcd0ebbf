# Paths as strings and path values.
[
  ({ lib, ... }: {
    options.root = lib.mkOption { type = lib.types.path; };
    options.home = lib.mkOption { type = lib.types.path; default = "/home/nobody"; };
  })
  { root = "/srv/www"; }
]
