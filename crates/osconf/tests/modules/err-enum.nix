# A value outside an enum.
[
  ({ lib, ... }: { options.restart = lib.mkOption { type = lib.types.enum [ "always" "no" ]; }; })
  { _file = "svc.nix"; restart = "sometimes"; }
]
