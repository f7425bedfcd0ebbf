# nixkit-difftest divergence (seed 777): nixkit value / cppnix value
# nixkit:      [ [ false false false ] ]
# CppNix 2.8:  [ [ true true true ] ]
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.genList (v150: (let v151 = (builtins.seq ((v152: (builtins.mul v150 (-479))) ([ 9 7 ] ++ [ (-2) 0 ])) (builtins.stringLength "n=${toString 0}")); v153 = (builtins.fromJSON "54");  in (let v155 = (v154: ((builtins.listToAttrs [ { name = "o"; value = { "q r" = 8; }; } ])).o."q r"); in builtins.elem v155 [ v155 ]))) 3)
(builtins.genList (v150: (let v155 = (v154: ""); in builtins.elem v155 [ v155 ])) 3)
