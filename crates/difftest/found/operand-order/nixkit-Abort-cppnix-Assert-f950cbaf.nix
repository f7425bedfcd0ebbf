# nixkit-difftest divergence (seed 3): nixkit Abort / cppnix Assert
# nixkit:      error (Abort): evaluation aborted with the following error message: 'dtabort 95'
# CppNix 2.8:  error (Assert): assertion 'false' failed
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.div (-(builtins.stringLength "${(assert false; "\tfoo.bar\n")}-${("\"-" + "\nhello\$")}")) (with { }; (abort "dtabort 95")))
(builtins.div (assert false; 0) (abort "dtabort 95"))
