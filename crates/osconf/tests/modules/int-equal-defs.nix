# Equal definitions of an int from two modules merge into one value.
[
  ({ lib, ... }: { options.port = lib.mkOption { type = lib.types.int; }; })
  { port = 80; }
  { port = 80; }
]
