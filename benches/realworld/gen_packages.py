"""Generates the nixpkgs-like package set of benches/realworld-vs-cppnix.sh.

Layout written under OUT (deterministic):
  stdenv.nix        a mkDerivation wrapper over `derivation`: name/pname/version,
                    inputs as strings with context, fixed-output `fetchurl` sources,
                    meta checks (broken, unfree licence, platforms, vulnerabilities)
                    through nixpkgs lib's `extendDerivation`, `overrideAttrs`
  pkgs/fK.nix       NFILES package functions (`{ lib, stdenv, fetchurl, <deps>,
                    enableFoo ? false, variant ? 0 }: stdenv.mkDerivation { ... }`)
  all-packages.nix  `self: super:` with N packages `pK = callPackage ./pkgs/f(K mod NFILES).nix { variant = ...; }`
                    and a `pythonPackages` scope (lib.makeScope, overrideScope')
  overlays.nix      two overlays: `override` and `overrideAttrs` of every 50th/30th package,
                    meta changes (broken, insecure) of some, new packages
  default.nix       the fixpoint (lib.fix + lib.extends) and an `nix-env -qa`-style walk:
                    every attribute (recursing into recurseIntoAttrs scopes), isDerivation,
                    name, outPath in tryEval (unavailable packages throw), a hash of the lines
"""

import os

NFILES = 1000


def package_file(f):
    deps = sorted({(f * 37 + 11) % 1009 % f, (f * f * 31 + 7) % 997 % f} if f >= 2 else set())
    dep_names = [f"p{d}" for d in deps]
    formals = ", ".join(["lib", "stdenv", "fetchurl"] + dep_names + ["enableFoo ? false", "variant ? 0"])
    inputs = " ".join(dep_names)
    licence = "unfree" if f % 61 == 60 and f > 900 else ["mit", "gpl3Plus", "asl20", "bsd3"][f % 4]
    platforms = "lib.platforms.darwin" if f % 67 == 66 and f > 900 else "lib.platforms.linux"
    return f"""{{ {formals} }}:

stdenv.mkDerivation rec {{
  pname = "f{f}-v${{toString variant}}";
  version = "{f % 9}.{f % 13}.${{toString variant}}";
  src = fetchurl {{
    url = "https://example.org/releases/${{pname}}-${{version}}.tar.gz";
    sha256 = builtins.hashString "sha256" "${{pname}}-${{version}}";
  }};
  buildInputs = [ {inputs} ];
  configureFlags = [
    (lib.enableFeature enableFoo "foo")
    "--with-prefix=/opt/${{pname}}"
  ] ++ lib.optionals (variant > 3) [ "--enable-variant-${{toString variant}}" ]
    ++ map (d: "--with-dep=${{d}}") buildInputs;
  doCheck = variant / 2 * 2 == variant;
  passthru = {{ tests = {{ }}; updateScript = "update-${{pname}}"; }};
  meta = with lib; {{
    description = "Generated package ${{pname}}, number {f}";
    homepage = "https://example.org/${{pname}}";
    license = licenses.{licence};
    platforms = {platforms};
    maintainers = [ ];
  }};
}}
"""


STDENV = r"""{ lib, system ? "x86_64-linux" }:
let
  checkMeta = meta:
    if meta.broken or false then "broken"
    else if !(meta.license.free or true) then "unfree"
    else if !(lib.elem system (meta.platforms or [ system ])) then "not supported on ${system}"
    else if (meta.knownVulnerabilities or [ ]) != [ ] then "insecure"
    else null;
  fetchurl = { url, sha256 }: derivation {
    name = baseNameOf url;
    builder = "builtin:fetchurl";
    system = "builtin";
    inherit url;
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = sha256;
  };
  mkDerivation = attrs:
    let
      meta = attrs.meta or { };
      passthru = attrs.passthru or { };
      problem = checkMeta meta;
      name = attrs.name or "${attrs.pname}-${attrs.version}";
      env = builtins.removeAttrs attrs [ "meta" "passthru" "buildInputs" ] // {
        inherit name system;
        builder = "/bin/sh";
        args = [ "-c" "genericBuild" ];
        outputs = attrs.outputs or [ "out" ];
        buildInputs = lib.concatMapStringsSep " " toString (attrs.buildInputs or [ ]);
        doCheck = if attrs.doCheck or false then "1" else "";
      };
      drv = derivation env;
      available = problem == null;
    in
    lib.extendDerivation
      (available || throw "Package ‘${name}’ is ${problem}, refusing to evaluate.")
      (passthru // {
        meta = meta // { inherit available; };
        overrideAttrs = f: mkDerivation (attrs // (if lib.isFunction f then f attrs else f));
      })
      drv;
in
{ inherit mkDerivation fetchurl system; }
"""


def all_packages(n):
    lines = ["{ lib }: self: super:", "let", "  callPackage = self.callPackage;", "in", "{"]
    for k in range(n):
        lines.append(f"  p{k} = callPackage ./pkgs/f{k % NFILES}.nix {{ variant = {k // NFILES}; }};")
    npy = max(10, n // 10)
    lines.append("  pythonPackages = lib.recurseIntoAttrs (lib.makeScope self.newScope (ps: {")
    for k in range(npy):
        dep = f"ps.py{k // 2}" if k else "self.p0"
        lines.append(f"    py{k} = ps.callPackage ({{ stdenv, fetchurl, lib }}: stdenv.mkDerivation {{"
                     f" pname = \"python-py{k}\"; version = \"1.{k % 10}\";"
                     f" buildInputs = [ {dep} ]; meta.license = lib.licenses.mit; }}) {{ }};")
    lines.append("  }));")
    lines.append("}")
    return "\n".join(lines) + "\n"


OVERLAYS = r"""{ lib, n }:
let
  # f applied to k = from, from + step, ... below n, as name/value pairs.
  every = step: from: f: builtins.listToAttrs (builtins.genList (j: f (from + j * step)) ((n - from - 1) / step + 1));
in
[
  # 1: options switched on through `override`, some leaf packages (no package
  # depends on p1000 and above) marked broken.
  (self: super:
    every 50 0 (k: { name = "p${toString k}"; value = super."p${toString k}".override { enableFoo = true; }; })
    // every 170 1001 (k: {
      name = "p${toString k}";
      value = super."p${toString k}".overrideAttrs (old: { meta = old.meta // { broken = true; }; });
    }))
  # 2: patches and versions through `overrideAttrs`, insecure packages, a python scope override, new packages.
  (self: super:
    every 30 2 (k: {
      name = "p${toString k}";
      value = super."p${toString k}".overrideAttrs (old: {
        version = old.version + "-patched";
        patches = [ "fix-${old.pname}.patch" ];
      });
    })
    // every 400 1003 (k: {
      name = "p${toString k}";
      value = super."p${toString k}".overrideAttrs (old: {
        meta = old.meta // { knownVulnerabilities = [ "CVE-2022-${toString k}" ]; };
      });
    })
    // {
      pythonPackages = lib.recurseIntoAttrs (super.pythonPackages.overrideScope' (pself: psuper: {
        py1 = psuper.py1.overrideAttrs (old: { version = "9.9"; });
      }));
      extraTool = self.callPackage ({ stdenv, p1, p2 }: stdenv.mkDerivation {
        pname = "extra-tool"; version = "1.0"; buildInputs = [ p1 p2 ];
      }) { };
    })
]
"""

DEFAULT = r"""# The generated package set (see benches/realworld/gen_packages.py).
{ libPath, n ? @N@ }:
let
  lib = import libPath;
  stdenv = import ./stdenv.nix { inherit lib; };
  base = self: {
    inherit lib stdenv;
    inherit (stdenv) fetchurl;
    newScope = extra: lib.callPackageWith (self // extra);
    callPackage = self.newScope { };
  };
  overlays = [ (import ./all-packages.nix { inherit lib; }) ] ++ import ./overlays.nix { inherit lib n; };
  pkgs = lib.fix (lib.foldl' (f: overlay: lib.extends overlay f) base overlays);

  # nix-env -qa: every derivation reachable through recurseForDerivations, its
  # name and (if available) output path.
  walk = prefix: set: lib.concatLists (lib.mapAttrsToList (name: value:
    let
      path = prefix + name;
      entry = builtins.tryEval (
        if lib.isDerivation value then
          let line = "${path} ${value.name} ${value.outPath}"; in builtins.seq line [ line ]
        else if value.recurseForDerivations or false then
          walk (path + ".") value
        else [ ]);
    in if entry.success then entry.value else [ "${path} unavailable" ]) set);
  lines = walk "" pkgs;
  unavailable = builtins.filter (l: lib.hasSuffix " unavailable" l) lines;
in
{
  packages = builtins.length lines;
  unavailable = builtins.length unavailable;
  hash = builtins.hashString "sha256" (lib.concatStringsSep "\n" lines);
  firstUnavailable = lib.take 3 unavailable;
  sampleDrvs = map (k: (builtins.tryEval pkgs."p${toString k}".drvPath).value) [ 1 4 52 1236 ];
  pythonSample = pkgs.pythonPackages.py1.version;
}
"""


def generate(out, n):
    os.makedirs(os.path.join(out, "pkgs"), exist_ok=True)
    for f in range(NFILES):
        with open(os.path.join(out, "pkgs", f"f{f}.nix"), "w") as fh:
            fh.write(package_file(f))
    for name, text in (("stdenv.nix", STDENV), ("all-packages.nix", all_packages(n)),
                       ("overlays.nix", OVERLAYS), ("default.nix", DEFAULT.replace("@N@", str(n)))):
        with open(os.path.join(out, name), "w") as fh:
            fh.write(text)
