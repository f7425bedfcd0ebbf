# escaped: (builtins.hashString \"sha256\" (builtins.substring 2 3 \"aß\"))
# nixkit-difftest divergence (seed 31354): nixkit value / cppnix value
# nixkit:      [ "83d544ccc223c057d2bf80d3f2a32982c32c3c0db8e2674820da5064783fb097" ]
# CppNix 2.8:  [ "1f184f101c67d585ba00d24cfde36863f747fbab9e84af7760ec771e9b36ca51" ]
# run: nix-instantiate --eval --strict this-file
# generated as: ((v166: (builtins.hashString "sha256" (builtins.substring 2 3 "aß"))) ((v167: (rec { v170 = [ 8 2147483647 9 ]; v171 = (v172: (-3)); }).v171) (let v168 = 9; v169 = false;  in 123456789.0)))
(builtins.hashString "sha256" (builtins.substring 2 3 "aß"))
