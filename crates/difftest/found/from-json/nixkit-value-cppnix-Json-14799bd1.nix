# nixkit-difftest divergence (seed 31339): nixkit value / cppnix Json
# nixkit:      [ 1 ]
# CppNix 2.8:  error (Json): [json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing value - unexpected number literal; expected end of input
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.fromJSON "01")
(builtins.fromJSON "01")
