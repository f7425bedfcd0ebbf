# mkEnableOption: false by default, enabled by a definition.
[
  ({ lib, ... }: { options.foo.enable = lib.mkEnableOption "foo"; options.bar.enable = lib.mkEnableOption "bar"; })
  { foo.enable = true; }
]
