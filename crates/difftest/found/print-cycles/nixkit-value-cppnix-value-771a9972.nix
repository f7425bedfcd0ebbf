# nixkit-difftest divergence (seed 4253): nixkit value / cppnix value
# nixkit:      [ [ [ 0 1 2 ] [ 0 1 2 ] [ 0 1 2 ] ] ]
# CppNix 2.8:  [ [ [ 0 1 2 ] «repeated» «repeated» ] ]
# run: nix-instantiate --eval --strict this-file
# generated as: (if (let v4 = (builtins.toJSON 3);  in (1.0e-3 < 2)) then (let v5 = ((((builtins.functionArgs ({ p, q ? 4, ... }: p))).r or false) || (builtins.isPath true)); v6 = (builtins.elemAt [ (builtins.genList (v7: v7) 3) ] 0); v8 = (-(builtins.fromJSON "49"));  in (assert (!v5); (builtins.map (v9: v6) [ [ ] [ "" "" ''\n    x\n  '' ] [ "" ''''$'' "" ] ]))) else ({ __functor = v10: v11: (builtins.concatLists ([ [ [ (-3) (-1) (-3) ] ] ] ++ [ [ [ 177 1 ] ] [ [ 6 ] [ 252 ] ] ] ++ [ [ [ 7 257 ] [ ] ] [ [ ] ] [ [ 6 4 ] [ (-1) ] [ 4 4 ] ] ])); } (builtins.trace (let v12 = builtins.tryEval "hello"; in if v12.success then v12.value else "\n") (builtins.elemAt [ 1.0 1.0e15 (-2.5) ] 1))))
(let v5 = (builtins.isPath true); v6 = (builtins.elemAt [ (builtins.genList (v7: v7) 3) ] 0);  in (builtins.map (v9: v6) [ "" ''''$'' "" ]))
