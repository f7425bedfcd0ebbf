# Sets whose elements carry no properties, from one definition and from several: elements
# of non-simple types (lists, submodules given as sets and as functions) merged, elements
# defined in several modules, and a submodule type of one module that imports another.
[
  ({ lib, ... }: {
    options.lists = lib.mkOption { type = lib.types.attrsOf (lib.types.listOf lib.types.str); };
    options.nulls = lib.mkOption { type = lib.types.attrsOf (lib.types.nullOr lib.types.int); };
    options.single = lib.mkOption { type = lib.types.attrsOf (lib.types.listOf lib.types.int); };
    options.subs = lib.mkOption {
      type = lib.types.attrsOf (lib.types.submodule ({ name, ... }: {
        imports = [ { options.extra = lib.mkOption { type = lib.types.str; default = "e"; }; } ];
        options.label = lib.mkOption { type = lib.types.str; default = name; };
        options.n = lib.mkOption { type = lib.types.int; default = 0; };
      }));
    };
  })
  {
    lists = { a = [ "1" ]; b = [ "2" ]; };
    nulls = { x = null; y = 1; };
    single = { p = [ 1 2 ]; q = [ ]; };
    subs = { one = { n = 1; }; two = { name, ... }: { label = "fn-${name}"; }; };
  }
  {
    lists = { a = [ "3" ]; c = [ ]; };
    nulls = { z = 3; };
    subs = { one = { extra = "x"; }; three = { }; };
  }
]
