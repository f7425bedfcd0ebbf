# nixkit-difftest divergence (seed 1016): nixkit value / cppnix Throw
# nixkit:      [ [ 0 ] ]
# CppNix 2.8:  error (Throw): dtthrow 37
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.map (v32: ((builtins.stringLength (builtins.substring 5 4 (''/$helloa'' + ""))) / (((builtins.elemAt [ 1.5e3 ] 0) / (if false then v32 else v32)) / ((builtins.add 0.1 (-2)) / (builtins.length (builtins.attrNames (v33: false))))))) (builtins.map (v34: (builtins.fromJSON "-98")) ((builtins.partition (v35: (let v36 = builtins.tryEval (false || false); in if v36.success then v36.value else (builtins.seq 2 true))) [ (builtins.mul 3.14159 (-1)) (123456789.0 + (throw "dtthrow 37")) ])).right))
(builtins.map (v34: 0) ((builtins.partition (v35: true) [ (throw "dtthrow 37") ])).right)
