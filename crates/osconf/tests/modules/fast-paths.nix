# Options and elements with one definition (or only a default), with and without
# properties: the fast paths must give what the full merge gives.
[
  ({ lib, ... }: {
    options = {
      plain = lib.mkOption { type = lib.types.str; default = "d"; };
      defaultOnly = lib.mkOption { type = lib.types.nullOr lib.types.int; default = null; };
      mkDefaultOne = lib.mkOption { type = lib.types.int; default = 1; };
      mkForceOne = lib.mkOption { type = lib.types.int; default = 1; };
      mkIfFalseOne = lib.mkOption { type = lib.types.bool; default = true; };
      mkMergeOne = lib.mkOption { type = lib.types.lines; default = "x"; };
      applied = lib.mkOption { type = lib.types.int; default = 2; apply = x: x * 10; };
      appliedDefault = lib.mkOption { type = lib.types.str; default = "a"; apply = x: x + "!"; };
      untyped = lib.mkOption { default = [ 1 ]; };
      untypedOne = lib.mkOption { };
      attrsOne = lib.mkOption { type = lib.types.attrs; };
      attrsTwo = lib.mkOption { type = lib.types.attrs; };
      strs = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
      strsOrdered = lib.mkOption { type = lib.types.listOf lib.types.str; };
      strsMkIf = lib.mkOption { type = lib.types.listOf lib.types.str; };
      sets = lib.mkOption { type = lib.types.listOf lib.types.attrs; };
      env = lib.mkOption { type = lib.types.attrsOf lib.types.str; };
      envProps = lib.mkOption { type = lib.types.attrsOf lib.types.str; };
      envLazy = lib.mkOption { type = lib.types.lazyAttrsOf lib.types.int; };
    };
  })
  ({ lib, ... }: {
    plain = "p";
    mkDefaultOne = lib.mkDefault 5;
    mkForceOne = lib.mkForce 6;
    mkIfFalseOne = lib.mkIf false false;
    mkMergeOne = lib.mkMerge [ "m1" (lib.mkIf true "m2") ];
    applied = 3;
    untypedOne = { a = 1; };
    attrsOne = { x = 1; y.z = 2; };
    attrsTwo = { x = 1; };
    strs = [ "a" "b" ];
    strsOrdered = [ "late" (lib.mkBefore "early") ];
    strsMkIf = [ "kept" (lib.mkIf false "dropped") (lib.mkIf true "also kept") ];
    sets = [ { a = 1; } { b = 2; } ];
    env = { A = "1"; B = "2"; };
    envProps = { A = lib.mkDefault "1"; B = lib.mkIf false "2"; C = lib.mkForce "3"; };
    envLazy = { one = 1; two = 2; };
  })
  { attrsTwo = { y = 2; }; strsOrdered = [ "middle" ]; }
]
