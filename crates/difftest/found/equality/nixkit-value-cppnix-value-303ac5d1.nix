# nixkit-difftest divergence (seed 778): nixkit value / cppnix value
# nixkit:      [ false ]
# CppNix 2.8:  [ "" ]
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.elemAt [ (let v76 = builtins.tryEval (let v75 = [ (throw "dtthrow 82") ]; in v75 != v75); in if v76.success then v76.value else (true -> true)) (false && false) (!true) ] 0)
(let v76 = builtins.tryEval (let v75 = [ (throw "dtthrow 82") ]; in v75 != v75); in if v76.success then v76.value else "")
