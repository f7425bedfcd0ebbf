# Regular expressions: builtins.match and builtins.split over 20,000 short
# lines with a few patterns (compiled once, then cached), as version parsing
# and path splitting in nixpkgs do.
let
  n = 20000;
  line = i: "pkg-${toString i}.${toString (i * 7)}-foo_bar baz${toString (i / 3)} /nix/store/x${toString i}";
  lines = builtins.genList line n;
  versions = map (l: builtins.match "([a-z]+)-([0-9]+)\\.([0-9]+)-(.*)" l) lines;
  words = map (l: builtins.split "[-. _/]+" l) lines;
  tails = map (l: builtins.match ".*/([^/]*)" l) lines;
  empties = map (l: builtins.split "x*" (builtins.substring 0 12 l)) lines;
  count = f: l: builtins.length (builtins.filter f l);
in
{
  versions = count (x: x != null) versions;
  words = builtins.foldl' (acc: w: acc + builtins.length w) 0 words;
  tails = count (x: x != null) tails;
  empties = builtins.foldl' (acc: w: acc + builtins.length w) 0 empties;
  sample = builtins.elemAt words 12345;
}
