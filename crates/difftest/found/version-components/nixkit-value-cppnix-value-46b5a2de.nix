# nixkit-difftest divergence (seed 1): nixkit value / cppnix value
# nixkit:      [ -1 ]
# CppNix 2.8:  [ 1 ]
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.compareVersions (with { }; "n=${toString (builtins.fromJSON "-79")}") ((builtins.listToAttrs [ { name = "c"; value = "n=${toString (1099511627776 - 5)}"; } ])).c)
(builtins.compareVersions "n=${toString true}" ((builtins.listToAttrs [ { name = "c"; value = "n=${toString 1099511627776}"; } ])).c)
