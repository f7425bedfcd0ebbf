# nixkit-difftest divergence (seed 31342): nixkit value / cppnix value
# nixkit:      [ [ "" [ ] "" ] ]
# CppNix 2.8:  [ [ "" [ ] "" [ ] "" ] ]
# run: nix-instantiate --eval --strict this-file
# generated as: (if ((123456789.0 <= (-2)) && ((-1)).value) then (builtins.fromJSON "[]") else (builtins.split ".*" (builtins.typeOf (builtins.fromJSON "2.0"))))
(builtins.split ".*" (builtins.typeOf 0))
