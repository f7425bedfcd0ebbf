# nixkit's `<nix/fetchurl.nix>`: a fixed-output derivation built by the
# daemon's `builtin:fetchurl` builder. Written for nixkit; it produces the
# same derivation (and so the same .drv path) as CppNix's corepkg.
{
  url,
  name ? baseNameOf (toString url),
  hash ? "",
  sha1 ? "",
  sha256 ? "",
  sha512 ? "",
  executable ? false,
  unpack ? false,
  impure ? false,
  # Ignored (the builder is always `builtin`); kept for old callers.
  system ? "",
  # Computed from the hash arguments unless given.
  outputHash ? if hash != "" then hash
    else if sha512 != "" then sha512
    else if sha1 != "" then sha1
    else sha256,
  outputHashAlgo ? if hash != "" then ""
    else if sha512 != "" then "sha512"
    else if sha1 != "" then "sha1"
    else "sha256",
}:
let
  common = {
    inherit name url executable unpack;
    urls = [ url ];
    builder = "builtin:fetchurl";
    system = "builtin";
    outputHashMode = if executable || unpack then "recursive" else "flat";
    preferLocalBuild = true;
    impureEnvVars = [ "http_proxy" "https_proxy" "ftp_proxy" "all_proxy" "no_proxy" ];
  };
  fixed = if impure then { __impure = true; } else { inherit outputHash outputHashAlgo; };
in
derivation (common // fixed)
