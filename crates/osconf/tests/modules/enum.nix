# An enum value, defined twice equally.
[
  ({ lib, ... }: { options.restart = lib.mkOption { type = lib.types.enum [ "always" "on-failure" "no" ]; default = "no"; }; })
  { restart = "always"; }
  { restart = "always"; }
]
