# Heavy use of nixpkgs lib's own functions (benches/realworld-vs-cppnix.sh):
# strings, lists, attrsets, generators, versions, toposort, fix/extends,
# cartesian products, levenshtein, naturalSort, over inputs of size `scale`.
# Usage: nix-instantiate --eval --strict --arg libPath LIB/lib --arg scale 1 lib-functions.nix
{ libPath, scale ? 1 }:
let
  lib = import libPath;
  inherit (lib) strings lists attrsets generators versions;
  n = 4000 * scale;
  ids = lib.range 1 n;
  words = map (i: "word${toString (i * 7919 - i * 7919 / 1009 * 1009)}-${lib.fixedWidthNumber 5 i}") ids;

  # strings
  text = lib.concatStringsSep " " words;
  split = lib.splitString " " text;
  upper = map lib.toUpper (lib.take 2000 split);
  escaped = lib.concatMapStringsSep " " lib.escapeShellArg (lib.take 2000 words);
  nixStrings = map strings.escapeNixString (lib.take 1000 words);
  prefixed = lib.filter (lib.hasPrefix "word1") words;
  stripped = map (lib.removePrefix "word") words;
  sanitized = map strings.sanitizeDerivationName (map (w: "${w} with spaces/and:colons") (lib.take 1000 words));
  ints = map (w: lib.toInt (lib.removePrefix "word" (lib.head (lib.splitString "-" w)))) words;
  distances = map (w: lib.strings.levenshtein w "word123-00042") (lib.take 300 words);
  within2 = lib.filter (lib.strings.levenshteinAtMost 2 "word12-00001") (lib.take 2000 words);

  # lists
  sorted = lib.sort (a: b: a < b) words;
  natural = lib.naturalSort (lib.take 2000 stripped);
  grouped = lib.groupBy (w: builtins.substring 0 5 w) words;
  parts = lib.partition (i: lib.mod i 3 == 0) ids;
  zipped = lib.zipListsWith (a: b: "${toString a}=${b}") ids words;
  indexed = lib.imap1 (i: w: i + builtins.stringLength w) words;
  flat = lib.flatten (map (i: [ i [ (i + 1) [ (i + 2) ] ] ]) (lib.take 2000 ids));
  uniq = lib.unique (map (i: lib.mod i 200) (lib.take 3000 ids));
  subtracted = lib.subtractLists (lib.range 1 200) (lib.take 2000 ids);
  reversed = lib.reverseList ids;
  counted = lib.count (i: lib.mod i 7 == 0) ids;
  dag = lib.toposort (a: b: lib.mod b a == 0 && a != b) (lib.reverseList (lib.range 1 300));

  # attribute sets
  attrs = lib.listToAttrs (lib.imap0 (i: w: lib.nameValuePair w { inherit i; sub = { depth = i; name = w; }; }) words);
  mapped = lib.mapAttrs' (k: v: lib.nameValuePair "m-${k}" (v.i * 2)) attrs;
  filtered = lib.filterAttrs (k: v: lib.mod v.i 2 == 0) attrs;
  recursive = lib.mapAttrsRecursive (path: v: if builtins.isInt v then v + 1 else v) attrs;
  updated = lib.foldl' lib.recursiveUpdate { } (map (i: lib.setAttrByPath [ "a${toString (lib.mod i 50)}" "b${toString (lib.mod i 7)}" ] i) ids);
  collected = lib.collect builtins.isInt recursive;
  byPath = map (i: lib.attrByPath [ "a${toString (lib.mod i 50)}" "b${toString (lib.mod i 7)}" ] 0 updated) ids;
  # (foldAttrs recurses once per list element through lib.foldr)
  folded = lib.foldAttrs (x: acc: x + acc) 0 (map (i: { x = i; y = i * 2; }) (lib.take 1000 ids));
  genned = lib.genAttrs (lib.take 2000 words) builtins.stringLength;
  product = lib.cartesianProductOfSets { a = lib.range 1 20; b = lib.range 1 20; c = [ "x" "y" "z" ]; };
  zippedAttrs = lib.zipAttrsWith (k: vs: lib.length vs) (map (i: { "k${toString (lib.mod i 100)}" = i; }) ids);

  # generators
  ini = generators.toINI { } (lib.genAttrs (map (i: "section${toString i}") (lib.range 1 200))
    (s: { key = s; value = 42; enabled = true; }));
  keyValue = generators.toKeyValue { } (lib.genAttrs (lib.take 1000 words) (w: builtins.stringLength w));
  pretty = generators.toPretty { } (lib.take 300 (lib.attrValues attrs));
  gitIni = generators.toGitINI { user = { name = "x"; email = "y"; }; remote.origin = { url = "z"; fetch = "w"; }; };

  # versions
  versionList = map (i: "${toString (lib.mod i 5)}.${toString (lib.mod i 17)}.${toString (lib.mod i 3)}") ids;
  newest = lib.foldl' (a: v: if lib.versionOlder a v then v else a) "0" versionList;
  majors = lib.unique (map versions.major (lib.take 500 versionList));
  minors = map versions.majorMinor versionList;

  # fixed points
  fixed = lib.fix (lib.foldl' (f: i: lib.extends (self: super: { "v${toString i}" = (super."v${toString (i - 1)}" or 0) + i; last = self."v${toString i}"; }) f) (self: { }) (lib.range 1 300));
in
{
  strings = [ (builtins.length split) (builtins.stringLength (lib.concatStrings upper)) (builtins.stringLength escaped)
    (builtins.length nixStrings) (builtins.length prefixed) (builtins.hashString "sha256" (lib.concatStrings stripped))
    (lib.head sanitized) (lib.foldl' builtins.add 0 ints) (lib.foldl' builtins.add 0 distances) (builtins.length within2) ];
  lists = [ (lib.head sorted) (lib.last sorted) (lib.take 3 natural) (builtins.length (builtins.attrNames grouped))
    (builtins.length parts.right) (lib.head zipped) (lib.foldl' builtins.add 0 indexed) (builtins.length flat)
    (builtins.length uniq) (builtins.length subtracted) (lib.head reversed) counted (builtins.length dag.result) ];
  attrs = [ (builtins.length (builtins.attrNames mapped)) (builtins.length (builtins.attrNames filtered))
    (builtins.length collected) (lib.foldl' builtins.add 0 byPath) folded (builtins.length (builtins.attrNames genned))
    (builtins.length product) zippedAttrs.k7 ];
  generators = builtins.hashString "sha256" (ini + keyValue + pretty + gitIni);
  versions = [ newest majors (builtins.hashString "sha256" (lib.concatStrings minors)) ];
  fixed = fixed.last;
}
