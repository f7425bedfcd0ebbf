# An option without default or definition, read.
[
  ({ lib, ... }: { options.needed = lib.mkOption { type = lib.types.str; }; })
]
