# mkBefore and mkAfter place lines before and after the rest.
[
  ({ lib, ... }: { options.script = lib.mkOption { type = lib.types.lines; }; })
  ({ lib, ... }: { script = lib.mkAfter "last"; })
  { script = "middle"; }
  ({ lib, ... }: { script = lib.mkBefore "first"; })
  ({ lib, ... }: { script = lib.mkOrder 1200 "after middle"; })
]
