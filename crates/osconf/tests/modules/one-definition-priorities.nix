# One definition under properties against the option's default: a worse priority than
# the default's, the same priority, none left (mkIf false), options without a default,
# mkOrder inside mkOverride, and mkOrder on a list.
[
  ({ lib, ... }: {
    options = {
      worse = lib.mkOption { type = lib.types.str; default = "d"; };
      same = lib.mkOption { type = lib.types.lines; default = "d"; };
      noDefault = lib.mkOption { type = lib.types.str; };
      gone = lib.mkOption { type = lib.types.nullOr lib.types.str; default = null; };
      forced = lib.mkOption { type = lib.types.int; };
      nested = lib.mkOption { type = lib.types.str; default = "d"; };
      merged = lib.mkOption { type = lib.types.str; };
      after = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ "d" ]; };
      sub = lib.mkOption {
        type = lib.types.submodule ({ config, ... }: {
          options.on = lib.mkOption { type = lib.types.bool; default = false; };
          options.home = lib.mkOption { type = lib.types.str; };
          options.shell = lib.mkOption { type = lib.types.str; default = "/bin/sh"; };
          config = lib.mkIf config.on { home = lib.mkDefault "/home"; shell = lib.mkOverride 1500 "/bin/sh"; };
        });
        default = { };
      };
    };
  })
  ({ lib, ... }: {
    worse = lib.mkOverride 2000 "x";
    same = lib.mkOverride 1500 "x";
    noDefault = lib.mkIf true (lib.mkDefault "v");
    gone = lib.mkIf false "x";
    forced = lib.mkIf true (lib.mkForce 3);
    nested = lib.mkIf true (lib.mkDefault (lib.mkBefore "v"));
    merged = lib.mkMerge [ (lib.mkIf false "no") (lib.mkIf true (lib.mkForce "yes")) ];
    after = lib.mkIf true (lib.mkAfter [ "x" ]);
    sub.on = true;
  })
]
