# Where an option, or one entry (`name`) of an attribute-set option, is defined, for
# assertion messages: " (defined in FILE:LINE, ...)", or "" when nothing says. Under
# nixpkgs lib, whose definitions carry no positions, file names only.
opt: name:
let
  defs = builtins.filter
    (d: name == null || (builtins.isAttrs d.value && d.value ? ${name}))
    (opt.definitionsWithLocations or [ ]);
  at = d: if (d.pos or null) != null then "${d.file}:${toString d.pos.line}" else d.file;
  locs = map at defs;
in
if locs == [ ] then "" else " (defined in ${builtins.concatStringsSep ", " locs})"
