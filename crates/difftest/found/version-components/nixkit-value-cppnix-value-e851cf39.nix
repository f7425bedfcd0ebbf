# nixkit-difftest divergence (seed 31360): nixkit value / cppnix value
# nixkit:      [ 1 ]
# CppNix 2.8:  [ -1 ]
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.compareVersions (builtins.head [ (builtins.toString (if (builtins.isNull 2147483647) then (0.1 * 123456.789) else (123456789.0 - 1.0e15))) ]) (builtins.toString (builtins.foldl' (v75: v76: ((v77: (({ p, q ? q, }: v75) { p = { "q r" = (-3); c = 3; }; })) ((v78: v79: v79) false))) (builtins.floor ((with { }; (-2.5)) + 5)) (builtins.fromJSON "[1, 2, 3]"))))
(builtins.compareVersions (builtins.head [ (builtins.toString 1.0e15) ]) (builtins.toString 0))
