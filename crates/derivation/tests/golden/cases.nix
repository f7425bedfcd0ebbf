# Golden derivation cases for nixkit-derivation: `n` derivations of varied kinds (plus the
# input derivations they pull in). Deterministic: the same `n` always gives the same set.
{ n ? 100, ca ? false }:
let
  inherit (builtins) genList elemAt length hashString toFile;
  system = "x86_64-linux";
  builder = "/bin/sh";
  mod = a: b: a - (a / b) * b;

  # Kinds, chosen by index.
  kinds = [
    "plain" "multi" "chain" "fixed-flat-sha256" "fixed-rec-sha256" "fixed-flat-sha1"
    "fixed-flat-md5" "fixed-rec-sha1" "fixed-flat-sha512" "pass-as-file" "structured"
    "on-fixed" "escapes" "multi-deps" "fixed-sri" "odd-name" "ignore-nulls" "srcs"
  ] ++ (if ca then [ "ca-floating" "on-ca" ] else [ ]);
  nKinds = length kinds;

  src = builtins.path { path = ./inputs; name = "golden-inputs"; };

  mk = i:
    let
      kind = elemAt kinds (mod i nKinds);
      name = "g${toString i}-${kind}";
      base = { inherit system builder name; args = [ "-c" "echo ${toString i}" ]; };
      prev = if i >= nKinds then elemAt cases (i - nKinds) else mk0;
      # An earlier case (memoised through `cases`), or the root when there is none.
      at = j: if j >= 0 then elemAt cases j else mk0;
      fixed = mode: algo: {
        outputHashMode = mode;
        outputHashAlgo = algo;
        outputHash = hashString algo "content ${toString i}";
      };
    in
    if kind == "plain" then derivation base
    else if kind == "multi" then derivation (base // { outputs = [ "out" "dev" "lib" ]; x = i; })
    else if kind == "chain" then derivation (base // { dep = "${prev}"; n = i; })
    else if kind == "fixed-flat-sha256" then derivation (base // fixed "flat" "sha256")
    else if kind == "fixed-rec-sha256" then derivation (base // fixed "recursive" "sha256")
    else if kind == "fixed-flat-sha1" then derivation (base // fixed "flat" "sha1")
    else if kind == "fixed-flat-md5" then derivation (base // fixed "flat" "md5")
    else if kind == "fixed-rec-sha1" then derivation (base // fixed "recursive" "sha1")
    else if kind == "fixed-flat-sha512" then derivation (base // fixed "flat" "sha512")
    else if kind == "pass-as-file" then derivation (base // {
      passAsFile = [ "big" "other" ]; big = "line1\nline2 ${toString i}"; other = "x"; })
    else if kind == "structured" then derivation (base // {
      __structuredAttrs = true; outputs = [ "out" "bin" ];
      nested = { a = [ 1 2.5 true null "s" ]; b.c = "d\n\"q\""; }; dep = "${prev}"; })
    else if kind == "on-fixed" then derivation (base // {
      fixedDep = "${at (i - 8)}"; plainDep = "${mk0}"; })
    else if kind == "escapes" then derivation (base // {
      args = [ "tab\there" "nl\nthere" "quote\"back\\slash" "cr\rx" "ünï ${toString i}" ];
      weird = "\"\\\t\n\r$ {}"; builder = "/bin/\"sh\""; })
    else if kind == "multi-deps" then
      let m = at (i - 12); in
      derivation (base // { a = "${m.dev}"; b = "${m.lib}"; c = "${prev}"; d = "${mk0}"; })
    else if kind == "fixed-sri" then derivation (base // {
      outputHashMode = "recursive";
      outputHash = "sha256-${builtins.substring 0 43 (builtins.readFile (toFile "b64" "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"))}=";
    })
    else if kind == "odd-name" then derivation (base // { name = "a+b-c.d_e?f=g-${toString i}"; })
    else if kind == "ignore-nulls" then derivation (base // {
      __ignoreNulls = true; dropped = null; kept = null == null; f = false; l = [ 1 "two" ]; })
    else if kind == "srcs" then derivation (base // {
      file = toFile "src-${toString i}" "text ${toString i}"; dir = "${src}/data.txt"; })
    else if kind == "ca-floating" then derivation (base // {
      __contentAddressed = true; outputHashMode = "recursive"; outputHashAlgo = "sha256";
      outputs = [ "out" "doc" ]; })
    else if kind == "on-ca" then derivation (base // { dep = "${at (i - 1)}"; })
    else throw "unknown kind ${kind}";

  mk0 = derivation { inherit system builder; name = "root"; };

  cases = genList mk n;
in
{
  inherit cases;
  # One line per case: "<drvPath>\t<output>=<path>\t…".
  expected = map (d:
    builtins.concatStringsSep "\t" ([ d.drvPath ]
      ++ map (o: "${o}=${builtins.unsafeDiscardStringContext d.${o}.outPath}") (d.outputs or [ "out" ])))
    cases;
}
