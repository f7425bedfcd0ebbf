# escaped: (0\u{2003})
# nixkit-difftest divergence (seed 31341): nixkit value / cppnix Syntax
# nixkit:      [ 0 ]
# CppNix 2.8:  error (Syntax): syntax error, unexpected invalid token, expecting ')'
# run: nix-instantiate --eval --strict this-file
# generated as: ((rec { v61 = (builtins.floor ((builtins.fromJSON "2.0") * (-3))); v62 = (builtins.floor ((1.5e3 - 2.5) * 1)); }).v62 )
(0 )
