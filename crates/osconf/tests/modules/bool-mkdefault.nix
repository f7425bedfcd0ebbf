# mkDefault loses to a plain definition and wins over the option's default.
[
  ({ lib, ... }: {
    options.a = lib.mkOption { type = lib.types.bool; default = false; };
    options.b = lib.mkOption { type = lib.types.bool; default = false; };
  })
  ({ lib, ... }: { a = lib.mkDefault true; b = lib.mkDefault true; })
  { a = false; }
]
