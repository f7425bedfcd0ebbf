# The port type.
[
  ({ lib, ... }: { options.port = lib.mkOption { type = lib.types.port; default = 80; }; options.other = lib.mkOption { type = lib.types.port; }; })
  { other = 65535; }
]
