# nixkit-difftest divergence (seed 2002): nixkit value / cppnix value
# nixkit:      [ 3 ]
# CppNix 2.8:  [ 2 ]
# run: nix-instantiate --eval --strict this-file
# generated as: ((builtins.foldl' (v151: v152: (builtins.fromJSON "92")) ((let v153 = builtins.tryEval 2; in if v153.success then v153.value else 5) + ((-2) + 6)) (builtins.concatMap (v154: [ (-1) 5 2 ]) [ ])) - (builtins.add (({ p, q ? (({ p, }@v156: q) { p = (v155: .5); }), }@v157: (builtins.length [ (v158: q) ])) { p = ({ } // { x-y = "bß"; c = 3.14159; value = false; }); }) (builtins.stringLength (builtins.substring 5 2 "日本\$\r"))))
(builtins.stringLength (builtins.substring 0 2 "日本\$\r"))
