# attrsOf merges names from several modules; each name merges by the element type.
[
  ({ lib, ... }: {
    options.env = lib.mkOption { type = lib.types.attrsOf lib.types.str; default = { }; };
    options.paths = lib.mkOption { type = lib.types.attrsOf (lib.types.listOf lib.types.str); default = { }; };
  })
  { env.A = "1"; env.B = "2"; paths.bin = [ "/bin" ]; }
  { env.C = "3"; env.A = "1"; paths.bin = [ "/usr/bin" ]; paths.lib = [ "/lib" ]; }
]
