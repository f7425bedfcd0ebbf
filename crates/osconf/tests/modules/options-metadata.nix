# What `options` shows of options taking the short paths: the priority, whether defined,
# and the definitions, for a default only, mkIf false against a default, mkDefault, one
# definition under mkIf and mkForce, and a plain list.
[
  ({ lib, ... }: {
    options = {
      a = lib.mkOption { type = lib.types.str; default = "d"; };
      b = lib.mkOption { type = lib.types.str; default = "d"; };
      c = lib.mkOption { type = lib.types.str; default = "d"; };
      e = lib.mkOption { type = lib.types.str; };
      f = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
      report = lib.mkOption { type = lib.types.attrsOf lib.types.anything; };
    };
  })
  ({ lib, ... }: { a = lib.mkIf false "x"; b = lib.mkDefault "y"; e = lib.mkIf true (lib.mkForce "z"); f = [ "q" ]; })
  ({ options, lib, ... }: {
    report = lib.genAttrs [ "a" "b" "c" "e" "f" ] (n: {
      inherit (options.${n}) highestPrio isDefined;
      definitions = if options.${n}.isDefined then options.${n}.definitions else [ ];
    });
  })
]
