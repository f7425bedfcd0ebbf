# A read-only option set once.
[
  ({ lib, ... }: { options.version = lib.mkOption { type = lib.types.str; readOnly = true; }; })
  { version = "1"; }
]
