# nixkit-difftest divergence (seed 105): nixkit Throw / cppnix Type
# nixkit:      error (Throw): dtthrow 80
# CppNix 2.8:  error (Type): value is a string while an integer was expected
# run: nix-instantiate --eval --strict this-file
# generated as: (((if (({ p, q, r, }: false) { p = (throw "dtthrow 46"); q = 7; r = [ ]; }) then (-5) else (builtins.length (builtins.attrNames [ '''' ]))) * ((builtins.foldl' (v84: v85: 592) 569 [ 2 6 931 ]) - (2 * 9))) / (throw "dtthrow 80"))
(("" * 0) / (throw "dtthrow 80"))
