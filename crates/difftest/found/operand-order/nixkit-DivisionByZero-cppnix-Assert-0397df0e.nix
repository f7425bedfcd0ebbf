# nixkit-difftest divergence (seed 5): nixkit DivisionByZero / cppnix Assert
# nixkit:      error (DivisionByZero): division by zero
# CppNix 2.8:  error (Assert): assertion 'false' failed
# run: nix-instantiate --eval --strict this-file
# generated as: (((builtins.getAttr "c" { inherit ({ c = (assert false; 2); }) c; }) * ((builtins.elemAt [ ((v1: v2: (-1)) 1) (let v3 = (v4: .5); v5 = false; v6 = "";  in (v7: 2)) ] 1) ((builtins.removeAttrs { name = [ "b\r" "" "-" ]; x-y = [ null null ]; } [ "b" "zz" ])).name)) / (builtins.trace ((v8: ({ __functor = v12: v13: (({ p, }@v14: [ ]) { p = 0; }); } ({ n = 5; value = null; } // (builtins.intersectAttrs { a = 4; } { n = 5; value = null; })))) ((v9: v10: (if true then true else false)) (let v11 = builtins.tryEval 1.0e-3; in if v11.success then v11.value else 2.5))) (builtins.length (builtins.sort builtins.lessThan [ ]))))
((assert false; "") / 0)
