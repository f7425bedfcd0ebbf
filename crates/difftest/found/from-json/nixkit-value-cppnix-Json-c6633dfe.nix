# nixkit-difftest divergence (seed 31337): nixkit value / cppnix Json
# nixkit:      [ inf ]
# CppNix 2.8:  error (Json): [json.exception.out_of_range.406] number overflow parsing '1e400'
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.getAttr "x-y" { x-y = (builtins.lessThan (0.0 * 1.0e21) (builtins.fromJSON "1e400")); })
(builtins.fromJSON "1e400")
