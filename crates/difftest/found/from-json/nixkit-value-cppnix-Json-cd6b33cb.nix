# nixkit-difftest divergence (seed 31340): nixkit value / cppnix Json
# nixkit:      [ "�" ]
# CppNix 2.8:  error (Json): [json.exception.parse_error.101] parse error at line 1, column 8: syntax error while parsing value - invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF; last read: '"\ud800"'
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.fromJSON "\"\\ud800\"")
(builtins.fromJSON "\"\\ud800\"")
