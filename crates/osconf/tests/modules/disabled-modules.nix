# disabledModules leaves out a module (and what only it imports), by path.
[
  ./parts/top.nix
  { disabledModules = [ ./parts/middle.nix ]; }
]
