# nixkit-difftest divergence (seed 31339): nixkit value / cppnix Json
# nixkit:      [ 1 ]
# CppNix 2.8:  error (Json): [json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid number; expected digit after '.'; last read: '1.'
# run: nix-instantiate --eval --strict this-file
# generated as: { name = (v3: (builtins.elem (builtins.attrValues { a = "\"1foo.bar"; b = ''\n    x\n  	''; }) ([ ] ++ [ [ ''hello'' "-" ] ]))); n = (builtins.fromJSON "1."); }
(builtins.fromJSON "1.")
