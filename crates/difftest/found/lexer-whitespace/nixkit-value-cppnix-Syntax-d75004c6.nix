# escaped: (0\u{c})
# nixkit-difftest divergence (seed 31341): nixkit value / cppnix Syntax
# nixkit:      [ 0 ]
# CppNix 2.8:  error (Syntax): syntax error, unexpected invalid token, expecting ')'
# run: nix-instantiate --eval --strict this-file
# generated as: (((builtins.head [ ((v5: 1) 4) (with { }; 2) ]) + 14))
(0)
