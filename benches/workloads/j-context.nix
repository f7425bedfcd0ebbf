# (j) string contexts: building and inspecting strings that carry store-path context.
let
  paths = builtins.genList (i: builtins.toFile "f${toString i}" "content ${toString i}") 300;
  joined = builtins.concatStringsSep ":" paths;
  many = builtins.genList (i: "${builtins.elemAt paths (i - i / 300 * 300)}-${toString i}") 20000;
in
{
  ctx = builtins.length (builtins.attrNames (builtins.getContext joined));
  len = builtins.foldl' (acc: s: acc + builtins.stringLength s) 0 many;
  has = builtins.length (builtins.filter builtins.hasContext many);
}
