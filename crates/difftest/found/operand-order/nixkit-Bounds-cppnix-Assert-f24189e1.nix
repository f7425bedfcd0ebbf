# nixkit-difftest divergence (seed 18): nixkit Bounds / cppnix Assert
# nixkit:      error (Bounds): 'builtins.tail' called on an empty list
# CppNix 2.8:  error (Assert): assertion 'false' failed
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.div ((v95: ((assert (if false then true else true); ((v103: 123456789.0) [ (-127) ])) + ((assert false; 1.0e-3) * (4 * 3)))) (let v96 = (builtins.all (v97: (true -> true)) ((v98: [ null ]) [ ])); v99 = (builtins.floor ((if false then 0.0 else 1.0e21) * (9 * (-2))));  in ((v100: v101: (builtins.length [ (v102: 4) ])) (builtins.length [ "\$\r1" "" "hello" ])))) (builtins.foldl' (v104: v105: v104) (builtins.stringLength (builtins.substring 3 (-1) "\${${""}-${''\n  $${x}foo.bar''}")) (builtins.tail ((v106: ((builtins.partition (v107: true) [ ])).wrong) ''\n  line ${"\n-"}\n    more\n''))))
(builtins.div (assert false; 0) (builtins.tail [ ]))
