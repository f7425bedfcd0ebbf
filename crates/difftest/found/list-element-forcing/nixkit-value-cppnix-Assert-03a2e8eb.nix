# nixkit-difftest divergence (seed 30): nixkit value / cppnix Assert
# nixkit:      [ [ ] ]
# CppNix 2.8:  error (Assert): assertion 'false' failed
# run: nix-instantiate --eval --strict this-file
# generated as: ((builtins.partition (v86: ((v87: (builtins.all (v88: (builtins.any (v89: false) [ { value = null; } ])) (let v94 = builtins.tryEval [ (v90: 1.0) (v91: 1.0) (v92: 123456789.0) ]; in if v94.success then v94.value else [ (v93: 1.5e3) ]))) (builtins.lessThan (builtins.fromJSON "45") (builtins.length (builtins.attrNames 3.14159))))) (builtins.map (v95: (builtins.seq ({ a = [ 123456789.0 1.0e-3 2.5 ]; }).a (assert false; { a = false; }))) (({ p ? (p ++ q), q, }: [ { c = 3.14159; } { c = .5; } ]) { p = (builtins.tail [ (-3) ]); q = (builtins.concatMap (v96: v96) [ [ (-644) 3 5 ] [ 7 (-267) ] ]); })))).right
((builtins.partition (v86: (builtins.all (v88: (builtins.any (v89: 0) [ ])) [ 0 ])) (builtins.map (v95: (assert false; 0)) [ 0 ]))).right
