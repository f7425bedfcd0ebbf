# mkBefore, mkAfter and mkOrder order list definitions; equal orders keep module order.
[
  ({ lib, ... }: { options.xs = lib.mkOption { type = lib.types.listOf lib.types.int; }; })
  ({ lib, ... }: { xs = lib.mkAfter [ 9 ]; })
  { xs = [ 5 ]; }
  ({ lib, ... }: { xs = lib.mkBefore [ 1 ]; })
  ({ lib, ... }: { xs = lib.mkOrder 700 [ 3 ]; })
  { xs = [ 6 ]; }
  ({ lib, ... }: { xs = lib.mkBefore [ 2 ]; })
]
