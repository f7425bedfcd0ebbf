# nixkit-difftest divergence (seed 107): nixkit DivisionByZero / cppnix Abort
# nixkit:      error (DivisionByZero): division by zero
# CppNix 2.8:  error (Abort): evaluation aborted with the following error message: 'dtabort 62'
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.sub ((abort "dtabort 62") / (({ } // { c = 0; })).${"c"}) (-((let v43 = builtins.tryEval (v41: (-1)); in if v43.success then v43.value else (v42: 9)) ((-3) / 49))))
((abort "dtabort 62") / 0)
