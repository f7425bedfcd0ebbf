# `system.build.toplevel`: the whole system as one derivation: `etc` (the /etc tree, a
# symlink per file, with `etc-copies` listing the files activation copies with a mode and
# owner), `sw` (the package environment), `services.json` (the supervised services),
# `users/` (passwd, group, shadow, the homes to create, the id map for the next
# generation), `activate` (installs the generation into a root directory), and the
# scripts and links of `system.toplevelScripts`/`toplevelLinks` (init.nix: `init`,
# `activate-services`, `services/`).
{ config, lib, pkgs, ... }:
let
  build = config.system.build;
  sh = "${pkgs.tools}/bin/sh";
  # `'s'` for the shell.
  quote = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] s + "'";
  runCommand = name: env: script: derivation ({
    inherit name;
    system = builtins.currentSystem;
    builder = sh;
    args = [ "-e" "-c" script ];
    PATH = "${pkgs.tools}/bin";
  } // env);
  etcEntries = lib.mapAttrsToList (target: e: e // { inherit target; }) build.etc;

  etc = runCommand "etc" { } ''
    mkdir -p $out/etc
    : > $out/etc-copies
    ${lib.concatMapStrings (e: ''
      mkdir -p "$out/etc/$(dirname ${quote e.target})"
      ln -s ${quote e.source} "$out/etc/"${quote e.target}
      ${lib.optionalString (e.mode != "symlink")
        "echo ${quote "${e.mode} ${e.user} ${e.group} ${e.target}"} >> $out/etc-copies"}
    '') etcEntries}
  '';

  # Every package's files linked into one tree; the first package providing a file wins.
  sw = runCommand "system-path" { } ''
    mkdir -p $out/bin
    for pkg in ${lib.concatMapStringsSep " " (p: quote "${p}") config.environment.systemPackages}; do
      (cd "$pkg" && find . -mindepth 1 ! -type d) | while read -r f; do
        f="''${f#./}"
        mkdir -p "$out/$(dirname "$f")"
        if [ -e "$out/$f" ] || [ -L "$out/$f" ]; then
          echo "osconf: $f of $pkg collides with $(readlink "$out/$f"); keeping the first" >&2
        else
          ln -s "$pkg/$f" "$out/$f"
        fi
      done
    done
  '';

  text = name: value: pkgs.writeText name value;
  users = build.users;

  activate = text "activate" ''
    #!${sh}
    # Installs this generation into the root directory $1 (default /).
    set -e
    export PATH=${pkgs.tools}/bin
    root="''${1:-}"
    system=@out@
    mkdir -p "$root/etc" "$root/run" "$root/var/lib/osconf"
    # /etc: /etc/static points at this generation's tree; every file links through it.
    ln -sfn "$system/etc" "$root/etc/.static.tmp" && mv -Tf "$root/etc/.static.tmp" "$root/etc/static"
    (cd "$system/etc" && find . -mindepth 1 ! -type d) | while read -r f; do
      f="''${f#./}"
      mkdir -p "$root/etc/$(dirname "$f")"
      ln -sfn "/etc/static/$f" "$root/etc/$f"
    done
    while read -r mode user group target; do
      [ -n "$target" ] || continue
      rm -f "$root/etc/$target" "$root/etc/$target.tmp"
      cp "$system/etc/$target" "$root/etc/$target.tmp"
      chmod "$mode" "$root/etc/$target.tmp"
      mv -f "$root/etc/$target.tmp" "$root/etc/$target"
    done < "$system/etc-copies"
    # Files the previous generation installed and this one does not are removed, while
    # they are still osconf's (a link into /etc/static, or a copy); files osconf never
    # installed are left alone.
    (cd "$system/etc" && find . -mindepth 1 ! -type d) | sed 's|^\./||' > "$root/etc/.osconf-files.tmp"
    if [ -f "$root/etc/.osconf-files" ]; then
      { grep -vxF -f "$root/etc/.osconf-files.tmp" "$root/etc/.osconf-files" || true; } | while read -r f; do
        if [ -L "$root/etc/$f" ]; then
          [ "$(readlink "$root/etc/$f")" != "/etc/static/$f" ] || rm -f "$root/etc/$f"
        elif [ -f "$root/etc/$f" ]; then
          rm -f "$root/etc/$f"
        fi
      done
    fi
    mv -f "$root/etc/.osconf-files.tmp" "$root/etc/.osconf-files"
    # Users and groups.
    for f in passwd:644 group:644 shadow:600; do
      rm -f "$root/etc/''${f%:*}.tmp"
      cp "$system/users/''${f%:*}" "$root/etc/''${f%:*}.tmp"
      chmod "''${f#*:}" "$root/etc/''${f%:*}.tmp"
      mv -f "$root/etc/''${f%:*}.tmp" "$root/etc/''${f%:*}"
    done
    while read -r uid gid home; do
      [ -n "$home" ] || continue
      if [ ! -d "$root$home" ]; then
        mkdir -p "$root$home"
        chown "$uid:$gid" "$root$home" 2>/dev/null || true
        chmod 700 "$root$home"
      fi
    done < "$system/users/homes"
    rm -f "$root/var/lib/osconf/ids.json.tmp"
    cp "$system/users/ids.json" "$root/var/lib/osconf/ids.json.tmp"
    chmod 644 "$root/var/lib/osconf/ids.json.tmp"
    mv -f "$root/var/lib/osconf/ids.json.tmp" "$root/var/lib/osconf/ids.json"
    ln -sfn "$system" "$root/run/.current-system.tmp" && mv -Tf "$root/run/.current-system.tmp" "$root/run/current-system"
  '';
in
{
  options.system.name = lib.mkOption {
    type = lib.types.str;
    default = config.networking.hostName;
    description = "The name of the system derivation (osconf-system-<name>).";
  };
  config.system.build.toplevel = runCommand "osconf-system-${config.system.name}" {
    passAsFile = [ "services" ];
    services = builtins.toJSON build.services;
  } ''
    mkdir -p $out/users
    ln -s ${etc}/etc $out/etc
    ln -s ${etc}/etc-copies $out/etc-copies
    ln -s ${sw} $out/sw
    cp "$servicesPath" $out/services.json
    cp ${text "passwd" users.passwd} $out/users/passwd
    cp ${text "group" users.group} $out/users/group
    cp ${text "shadow" users.shadow} $out/users/shadow
    cp ${text "homes" (lib.concatMapStrings (h: "${toString h.uid} ${toString h.gid} ${h.home}\n") users.homes)} $out/users/homes
    cp ${text "ids.json" (builtins.toJSON users.idMap)} $out/users/ids.json
    sed "s|@out@|$out|" ${activate} > $out/activate
    chmod +x $out/activate
    ${builtins.concatStringsSep "" (lib.mapAttrsToList (n: f: ''
      sed "s|@out@|$out|" ${f} > $out/${n}
      chmod +x $out/${n}
    '') config.system.toplevelScripts)}
    ${builtins.concatStringsSep "" (lib.mapAttrsToList (n: p: "ln -s ${p} $out/${n}\n") config.system.toplevelLinks)}
  '';
}
