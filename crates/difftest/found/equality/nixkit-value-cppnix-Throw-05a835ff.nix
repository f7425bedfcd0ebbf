# nixkit-difftest divergence (seed 777): nixkit value / cppnix Throw
# nixkit:      [ false ]
# CppNix 2.8:  error (Throw): dtthrow 36
# run: nix-instantiate --eval --strict this-file
# generated as: (let v160 = [ (throw "dtthrow 36") ]; in v160 != v160)
(let v160 = [ (throw "dtthrow 36") ]; in v160 != v160)
