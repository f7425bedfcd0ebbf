# A module declaring an option under `_module` beside the module system's own
# (`_module.args`), at the top and in a submodule whose type has one module.
[
  ({ lib, ... }: {
    options._module.tag = lib.mkOption { type = lib.types.str; default = "top"; };
    options.seen = lib.mkOption { type = lib.types.str; };
    options.sub = lib.mkOption {
      type = lib.types.submodule ({ config, ... }: {
        options._module.tag = lib.mkOption { type = lib.types.str; default = "sub"; };
        options.tagged = lib.mkOption { type = lib.types.str; default = config._module.tag; };
      });
      default = { };
    };
  })
  ({ config, ... }: { seen = config._module.tag; _module.tag = "set"; sub._module.tag = "set-sub"; })
]
