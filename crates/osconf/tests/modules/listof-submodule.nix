# listOf submodule: each element is evaluated with the submodule's defaults.
[
  ({ lib, ... }: {
    options.mounts = lib.mkOption {
      type = lib.types.listOf (lib.types.submodule {
        options.what = lib.mkOption { type = lib.types.str; };
        options.where = lib.mkOption { type = lib.types.str; };
        options.options = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ "defaults" ]; };
      });
      default = [ ];
    };
  })
  { mounts = [ { what = "/dev/sda1"; where = "/"; } ]; }
  { mounts = [ { what = "tmpfs"; where = "/tmp"; options = [ "size=1G" ]; } ]; }
]
