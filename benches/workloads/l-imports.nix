# (l) many imports: 2,000 small generated files under l-imports/ (20 directories
# of 100, listed with builtins.readDir), each an attrset or a `{ base }:` function
# that imports its parent in a binary tree and sometimes a sibling (a DAG of
# ~2,400 import edges, depth ~11). The top level imports every file and sums
# their fields. (Generated: see benches/workloads/README.md.)
let
  root = ./l-imports;
  ls = dir: builtins.attrNames (builtins.readDir dir);
  files = builtins.concatMap
    (d: map (f: root + "/${d}/${f}") (builtins.filter (f: builtins.match ".*\\.nix" f != null) (ls (root + "/${d}"))))
    (ls root);
  load = p: let m = import p; in if builtins.isFunction m then m { base = 1; } else m;
  mods = map load files;
  sum = f: builtins.foldl' (a: m: a + f m) 0 mods;
in
{
  count = builtins.length mods;
  ids = sum (m: m.id);
  values = sum (m: m.value);
  depths = sum (m: m.depth);
  nameLen = sum (m: builtins.stringLength m.name);
  applied = sum (m: m.f 2);
}
