# A file imported twice counts once.
[
  ./parts/top.nix
  ./parts/middle.nix
  { imports = [ ./parts/middle.nix ./parts/leaf.nix ]; }
]
