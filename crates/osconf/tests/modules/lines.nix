# Lines merge with newlines, in module order.
[
  ({ lib, ... }: { options.script = lib.mkOption { type = lib.types.lines; default = ""; }; })
  { script = "echo one"; }
  { script = "echo two"; }
  { script = "echo three"; }
]
