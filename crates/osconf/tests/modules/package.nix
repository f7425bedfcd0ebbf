# A package option (a derivation-like set) and a list of packages.
let
  fake = name: { type = "derivation"; inherit name; outPath = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-${name}"; };
in
[
  ({ lib, ... }: {
    options.shell = lib.mkOption { type = lib.types.package; };
    options.packages = lib.mkOption { type = lib.types.listOf lib.types.package; default = [ ]; };
  })
  { shell = fake "bash"; packages = [ (fake "hello") ]; }
  { packages = [ (fake "coreutils") ]; }
]
