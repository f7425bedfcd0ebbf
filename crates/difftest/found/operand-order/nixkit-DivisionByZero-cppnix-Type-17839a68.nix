# nixkit-difftest divergence (seed 6): nixkit DivisionByZero / cppnix Type
# nixkit:      error (DivisionByZero): division by zero
# CppNix 2.8:  error (Type): value is an integer while a list was expected
# run: nix-instantiate --eval --strict this-file
# generated as: (((builtins.length (builtins.attrNames .5)) / (builtins.floor 1.0e-3)) + (builtins.compareVersions ((v47: "\\") 3) (builtins.replaceStrings [ "" "hello\$\t" ] [ "$${x}1.2.3" "" ''/d1'' ] "a")))
((builtins.length 0) / 0)
