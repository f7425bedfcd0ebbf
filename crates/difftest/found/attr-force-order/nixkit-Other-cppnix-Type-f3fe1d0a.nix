# nixkit-difftest divergence (seed 7055): nixkit Other / cppnix Type
# nixkit:      error (Other): 'builtins.elemAt' called with index 0 on a list of size 0
# CppNix 2.8:  error (Type): value is a string while a list was expected
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.removeAttrs { n = (builtins.length (builtins.attrNames (-1))); a = (builtins.elemAt [ 5 4294967296 (-1) ] (-1)); "${"dyn"}" = (-4); } [ "name" "zz" ])
{ n = (builtins.length ""); a = (builtins.elemAt [ ] 0); }
