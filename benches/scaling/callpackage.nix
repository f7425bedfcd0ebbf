# nixpkgs-shaped package set: `callPackage` over a fixpoint of 10,000 x scale
# packages with two overlays and `override`. Every call does
# `intersectAttrs (functionArgs f) pool` against the whole pool, as nixpkgs'
# callPackage does for each of its packages, so the cost of intersectAttrs
# must follow the (small) set of function arguments, not the pool.
# Usage: nixkit instantiate --eval --strict --arg scale 4 callpackage.nix
{ scale ? 1 }:
let
  n = 10000 * scale;
  fix = f: let x = f x; in x;
  extends = overlay: f: self: let super = f self; in super // overlay self super;
  makeOverridable = f: args:
    let result = f args;
    in result // {
      override = newArgs:
        makeOverridable f (args // (if builtins.isFunction newArgs then newArgs args else newArgs));
    };
  callPackageWith = pool: fn: args:
    makeOverridable fn (builtins.intersectAttrs (builtins.functionArgs fn) pool // args);

  # Package functions of a few shapes; `dep` and `extra` are filled in per package.
  templates = [
    ({ mkPkg, zlib, openssl, dep, version ? "1.0" }: mkPkg "lib" version [ zlib openssl dep ])
    ({ mkPkg, perl, dep, extra ? null, enableDocs ? false }:
      mkPkg (if enableDocs then "docs" else "tool") "2.1" ([ perl dep ] ++ (if extra == null then [ ] else [ extra ])))
    ({ mkPkg, python, zlib, dep }: mkPkg "py" "3.10" [ python zlib dep ])
    ({ mkPkg, ncurses, dep, openssl, withSsl ? true }:
      mkPkg "term" "6.3" ([ ncurses dep ] ++ (if withSsl then [ openssl ] else [ ])))
  ];
  nTemplates = builtins.length templates;

  base = self:
    let callPackage = callPackageWith self;
    in builtins.listToAttrs (builtins.genList (i: {
      name = "p${toString i}";
      value = callPackage (builtins.elemAt templates (i - i / nTemplates * nTemplates)) {
        dep = if i == 0 then self.zlib else self."p${toString (i / 2)}";
      };
    }) n) // {
      mkPkg = kind: version: deps: {
        inherit kind version;
        weight = builtins.foldl' (acc: d: acc + d.weight) 1 (builtins.filter (d: d != null) deps) - 1;
      };
      zlib = { kind = "core"; version = "1.2"; weight = 1; };
      openssl = { kind = "core"; version = "3.0"; weight = 2; };
      perl = { kind = "core"; version = "5.36"; weight = 3; };
      python = { kind = "core"; version = "3.10"; weight = 4; };
      ncurses = { kind = "core"; version = "6.3"; weight = 5; };
    };
  # Overlay 1: every tenth package overridden (its dependency replaced).
  overlay1 = self: super: builtins.listToAttrs (builtins.genList (j:
    let name = "p${toString (j * 10)}";
    in { inherit name; value = super.${name}.override { dep = self.perl; }; }) (n / 10));
  # Overlay 2: new packages built on the first overlay's ones.
  overlay2 = self: super: builtins.listToAttrs (builtins.genList (j: {
    name = "q${toString j}";
    value = (callPackageWith self (builtins.elemAt templates 1) { dep = self."p${toString (j * 10)}"; })
      .override (old: { extra = self.zlib; enableDocs = j / 2 * 2 == j; });
  }) (n / 100));
  pkgs = fix (extends overlay2 (extends overlay1 base));
  names = builtins.attrNames pkgs;
  walked = builtins.filter (name: pkgs.${name} ? kind) names;
in
{
  count = builtins.length walked;
  weights = builtins.foldl' (acc: name: acc + (if pkgs.${name}.weight > 1000000000 then 1 else 0)) 0 walked;
  kinds = builtins.foldl' (acc: name: acc // { ${pkgs.${name}.kind} = (acc.${pkgs.${name}.kind} or 0) + 1; }) { } walked;
  sample = builtins.map (name: pkgs.${name}.weight) [ "p1" "p10" "p333" "q3" ];
}
