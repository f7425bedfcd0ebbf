# nixkit-difftest divergence (seed 2000): nixkit value / cppnix value
# nixkit:      [ "<?xml version='1.0' encoding='utf-8'?>\n<expr>\n  <list />\n</expr>\n" ]
# CppNix 2.8:  [ "<?xml version='1.0' encoding='utf-8'?>\n<expr>\n  <list>\n  </list>\n</expr>\n" ]
# run: nix-instantiate --eval --strict this-file
# generated as: (builtins.concatStringsSep (builtins.toXML (builtins.genList (v7: (assert true; 3)) 0)) (({ p, q, r ? (({ p, q, }@v11: (builtins.hasAttr "a" false)) { p = (with { }; { x-y = false; }); q = (assert true; "😀\n"); }), }: (builtins.head [ (builtins.fromJSON "[\"a\", \"b\"]") ])) { p = ((v8: (let v9 = { b = null; n = true; }; v10 = [ ];  in [ (-645) (-747) ])) (builtins.sub 2.5 8)); q = (builtins.stringLength (builtins.substring 5 5 "1.2.3\$foo.bar")); r = (builtins.isFloat (builtins.concatLists [ ])); }))
(builtins.toXML [ ])
