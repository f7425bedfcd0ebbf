# nixkit-difftest divergence (seed 782): nixkit value / cppnix Throw
# nixkit:      [ [ ] ]
# CppNix 2.8:  error (Throw): dtthrow 25
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.filter (v23: (let v24 = [ (throw "dtthrow 25") ]; in v24 != v24)) (builtins.head [ (builtins.genList (v25: (([ ] == [ ]) || (let v26 = true; v27 = v26;  in false))) 1) ((v28: [ false ]) 3.14159) (with { }; [ ]) ]))
(builtins.filter (v23: (let v24 = [ (throw "dtthrow 25") ]; in v24 != v24)) [ "" ])
