# Two declarations of one submodule option combine their options.
[
  ({ lib, ... }: {
    options.users = lib.mkOption {
      type = lib.types.attrsOf (lib.types.submodule { options.uid = lib.mkOption { type = lib.types.int; default = 0; }; });
    };
  })
  ({ lib, ... }: {
    options.users = lib.mkOption {
      type = lib.types.attrsOf (lib.types.submodule ({ name, ... }: { options.shell = lib.mkOption { type = lib.types.str; default = "/bin/sh-${name}"; }; }));
    };
  })
  { users.root = { }; users.alice = { uid = 1000; shell = "/bin/bash"; }; }
]
