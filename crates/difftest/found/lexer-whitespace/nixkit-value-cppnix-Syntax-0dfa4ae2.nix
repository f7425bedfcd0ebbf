# escaped: (0\u{a0})
# nixkit-difftest divergence (seed 31337): nixkit value / cppnix Syntax
# nixkit:      [ 0 ]
# CppNix 2.8:  error (Syntax): syntax error, unexpected invalid token, expecting ')'
# run: nix-instantiate --eval --strict this-file
# generated as: ((v145: ((builtins.length (builtins.attrNames (v146: (((builtins.functionArgs ({ p, q ? v145, ... }: p))).r or false)))) - (-2))) )
(0 )
