# nixkit-difftest divergence (seed 804): nixkit value / cppnix value
# nixkit:      [ [ [ "" 0 0 ] [ "" 0 0 ] [ "" 0 0 ] [ "" 0 0 ] [ "" 0 0 ] ] ]
# CppNix 2.8:  [ [ [ "" 0 0 ] «repeated» «repeated» «repeated» «repeated» ] ]
# run: nix-instantiate --eval --strict this-file
# generated as: ((v112: (builtins.genList (v117: v112) 5)) (builtins.map (v113: ((rec { v114 = ""; v115 = 0.1; }).v115 - 1.0e21)) ([ [ true ] [ ] [ true true ] ] ++ ((builtins.partition (v116: true) [ ])).wrong)))
((v112: (builtins.genList (v117: v112) 5)) [ "" 0 0 ])
