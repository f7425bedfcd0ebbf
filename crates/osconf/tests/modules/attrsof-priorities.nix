# Priorities apply per attribute of attrsOf.
[
  ({ lib, ... }: { options.env = lib.mkOption { type = lib.types.attrsOf lib.types.str; }; })
  ({ lib, ... }: { env = { a = lib.mkDefault "default"; b = "plain"; c = lib.mkForce "forced"; }; })
  ({ lib, ... }: { env = { a = "plain"; b = lib.mkDefault "default"; c = "plain"; }; })
]
