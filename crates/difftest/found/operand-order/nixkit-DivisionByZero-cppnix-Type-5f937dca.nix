# nixkit-difftest divergence (seed 5): nixkit DivisionByZero / cppnix Type
# nixkit:      error (DivisionByZero): division by zero
# CppNix 2.8:  error (Type): value is an integer while a string was expected
# run: nix-instantiate --eval --strict this-file
# generated as: ((builtins.compareVersions ((v1: (builtins.substring 4 5 "\n")) (builtins.getAttr "n" rec { n = [ 1 1 (-414) ]; })) (builtins.replaceStrings (builtins.attrValues ({ a = "\t"; } // (builtins.intersectAttrs { b = 4; } { a = "\t"; }))) (let v3 = builtins.tryEval (builtins.attrNames false); in if v3.success then v3.value else (builtins.map (v2: "\n") [ ])) "n=${toString (2 * 4)}")) / (builtins.stringLength (builtins.elemAt [ ("$${x}x y-" + "\nb") ((builtins.parseDrvName "\n")).name (builtins.substring 5 5 (builtins.substring 1 0 "\"")) ] 2)))
((builtins.compareVersions "" 0) / 0)
