# A string option left at its default, and one defined.
[
  ({ lib, ... }: {
    options.greeting = lib.mkOption { type = lib.types.str; default = "hello"; };
    options.name = lib.mkOption { type = lib.types.str; default = "world"; };
  })
  { name = "osconf"; }
]
