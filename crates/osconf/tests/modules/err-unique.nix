# Two definitions of a package option, which takes one.
let fake = name: { type = "derivation"; inherit name; outPath = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-${name}"; }; in
[
  ({ lib, ... }: { options.shell = lib.mkOption { type = lib.types.package; }; })
  { _file = "one.nix"; shell = fake "bash"; }
  { _file = "two.nix"; shell = fake "zsh"; }
]
