# nixkit-difftest divergence (seed 1012): nixkit value / cppnix Assert
# nixkit:      [ [ ] ]
# CppNix 2.8:  error (Assert): assertion '(__lessThan 0 0)' failed
# run: nix-instantiate --eval --strict this-file
# generated as: (let v13 = ({ } // { inherit ({ c = (builtins.compareVersions (builtins.toString [ 0.0 0.1 2.5 ]) ''\n  line ${""}\n    more\n''); }) c; });  in ((builtins.partition (v14: (''\n  line ${''\n  line ${""}\n    more\n''}\n    more\n'' ? "q r")) [ (builtins.all (v15: (with { }; true)) (builtins.fromJSON "[]")) (assert ((-1) > 6); (builtins.isString (-3))) ])).right)
((builtins.partition (v14: (0 ? "q r")) [ (assert (0 > 0); 0) ])).right
