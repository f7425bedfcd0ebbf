# mkOverride with custom priorities: the lowest number wins, ties merge.
[
  ({ lib, ... }: { options.xs = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ "default" ]; }; })
  ({ lib, ... }: { xs = lib.mkOverride 200 [ "p200" ]; })
  ({ lib, ... }: { xs = lib.mkOverride 90 [ "p90-a" ]; })
  ({ lib, ... }: { xs = lib.mkOverride 90 [ "p90-b" ]; })
  ({ lib, ... }: { xs = lib.mkOverride 95 [ "p95" ]; })
]
