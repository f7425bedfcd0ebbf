# `system.build.toplevel`: the whole system as one derivation: `etc` (the /etc tree, a
# symlink per file; `etc-files`, `etc-links` and `etc-copies` list what activation
# installs, the copies with their mode, uid and gid), `sw` (the package environment), `services.json` (the supervised services),
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

  # The /etc tree (a link per file) and the lists activation reads: `etc-files` (every
  # target), `etc-links` (targets installed as links through /etc/static) and
  # `etc-copies` (`MODE UID GID TARGET`, owner and group resolved through this
  # generation's own users and groups).
  etc = runCommand "etc" {
    # One line per file, `SOURCE MODE UID GID TARGET` (a file, not the builder's command
    # line: thousands of files outgrow an argument).
    passAsFile = [ "entries" ];
    entries = lib.concatMapStrings (e:
      "${e.source} ${e.mode} ${toString (users.uids.${e.user} or 0)} ${toString (users.gids.${e.group} or 0)} ${e.target}\n")
      etcEntries;
  } ''
    mkdir -p $out/etc
    : > $out/etc-copies
    : > $out/etc-links
    : > $out/etc-files
    while read -r source mode uid gid target; do
      mkdir -p "$out/etc/$(dirname "$target")"
      ln -s "$source" "$out/etc/$target"
      echo "$target" >> $out/etc-files
      if [ "$mode" = symlink ]; then
        echo "$target" >> $out/etc-links
      else
        echo "$mode $uid $gid $target" >> $out/etc-copies
      fi
    done < "$entriesPath"
  '';

  # The packages' paths, each once, in order (as strings, with their contexts).
  distinctPackages = map (x: x.key) (builtins.genericClosure {
    startSet = map (p: { key = "${p}"; }) config.environment.systemPackages;
    operator = _: [ ];
  });
  # Every package's files linked into one tree (a package listed twice, once); the first
  # package providing a file wins.
  sw = runCommand "system-path" { } ''
    mkdir -p $out/bin
    for pkg in ${lib.concatMapStringsSep " " quote distinctPackages}; do
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
    # Installs this generation into the root directory $1 (default /), one step at a time,
    # each replacing files by rename, so a rerun after an interruption converges:
    # /etc (links through /etc/static, switched by one rename; copies with mode and
    # owner; files of the previous generation no longer declared removed, files osconf
    # never installed left alone), users and groups, home directories, the services hook
    # ($system/activate-services ROOT PREVIOUS, when the system has one), and last
    # /run/current-system.
    set -e
    export PATH=${pkgs.tools}/bin
    root="''${1:-}"
    system=@out@
    etc="$root/etc"
    previous=$(readlink "$root/run/current-system" 2>/dev/null || true)
    mkdir -p "$etc" "$root/run" "$root/var/lib/osconf"

    # Owners: as root of the initial user namespace a failed chown is an error; otherwise
    # (an unprivileged activation, a user namespace without those ids) it is reported and
    # the file keeps the activating user as owner.
    privileged=
    if [ "$(id -u)" = 0 ] && { read -r a b c < /proc/self/uid_map; } 2>/dev/null && [ "$a $b $c" = "0 0 4294967295" ]; then
      privileged=1
    fi
    owner() {
      chown -h "$1:$2" "$3" 2>/dev/null && return 0
      if [ -n "$privileged" ]; then
        echo "osconf: cannot give $4 to $1:$2" >&2
        return 1
      fi
      unowned="$unowned $4 ($1:$2)"
    }
    unowned=
    # replace FILE MODE UID GID NAME < content: FILE written by rename, with its mode and
    # owner (`-`: the activating user's).
    replace() {
      rm -f "$1.osconf-tmp"
      cat > "$1.osconf-tmp"
      chmod "$2" "$1.osconf-tmp"
      [ "$3" = - ] || owner "$3" "$4" "$1.osconf-tmp" "$5" || return 1
      mv -f "$1.osconf-tmp" "$1"
    }

    # Leftovers of an interrupted activation.
    find "$etc" -name '*.osconf-tmp' -exec rm -rf {} + 2>/dev/null || true
    # /etc. A file osconf never installed where this generation puts one is moved aside.
    cut -d' ' -f4- "$system/etc-copies" | cat "$system/etc-links" - | while IFS= read -r f; do
      if [ -e "$etc/$f" ] && [ ! -L "$etc/$f" ] && ! grep -qxF -- "$f" "$etc/.osconf-files" 2>/dev/null; then
        mv -f "$etc/$f" "$etc/$f.osconf-backup"
        echo "osconf: /etc/$f was not installed by osconf; kept as /etc/$f.osconf-backup" >&2
      fi
    done
    # What this activation may install is recorded first, so a run interrupted after
    # making a file leaves it known as osconf's to the next one.
    { cat "$system/etc-files"; cat "$etc/.osconf-files" 2>/dev/null || true; } | sort -u |
      replace "$etc/.osconf-files" 644 - - /etc/.osconf-files
    # Links: through /etc/static they show the old generation's files (a new file's link
    # dangles) until /etc/static is switched, by one rename.
    while IFS= read -r f; do
      [ "$(readlink "$etc/$f" 2>/dev/null)" != "/etc/static/$f" ] || continue
      mkdir -p "$(dirname "$etc/$f")"
      ln -sfn "/etc/static/$f" "$etc/$f.osconf-tmp"
      mv -f "$etc/$f.osconf-tmp" "$etc/$f"
    done < "$system/etc-links"
    ln -sfn "$system/etc" "$etc/.static.osconf-tmp"
    mv -Tf "$etc/.static.osconf-tmp" "$etc/static"
    while read -r mode uid gid f; do
      [ -n "$f" ] || continue
      mkdir -p "$(dirname "$etc/$f")"
      replace "$etc/$f" "$mode" "$uid" "$gid" "/etc/$f" < "$system/etc/$f"
    done < "$system/etc-copies"
    # Files osconf installed before and this generation does not are removed while they
    # are still osconf's (its link, or a copy); anything else is left alone.
    { grep -vxF -f "$system/etc-files" "$etc/.osconf-files" || true; } | while IFS= read -r f; do
      if [ -L "$etc/$f" ]; then
        [ "$(readlink "$etc/$f")" != "/etc/static/$f" ] || rm -f "$etc/$f"
      elif [ -f "$etc/$f" ]; then
        rm -f "$etc/$f"
      fi
    done
    replace "$etc/.osconf-files" 644 - - /etc/.osconf-files < "$system/etc-files"

    # Users and groups.
    replace "$etc/passwd" 644 - - /etc/passwd < "$system/users/passwd"
    replace "$etc/group" 644 - - /etc/group < "$system/users/group"
    replace "$etc/shadow" 600 - - /etc/shadow < "$system/users/shadow"
    # Home directories: made complete (owner, mode 0700) under a temporary name, then
    # renamed; one that exists is the user's and left as it is.
    while read -r uid gid home; do
      [ -n "$home" ] || continue
      [ ! -e "$root$home.osconf-tmp" ] || rm -rf "$root$home.osconf-tmp"
      [ ! -d "$root$home" ] || continue
      mkdir -p "$(dirname "$root$home")"
      mkdir -m 700 "$root$home.osconf-tmp"
      owner "$uid" "$gid" "$root$home.osconf-tmp" "$home"
      mv "$root$home.osconf-tmp" "$root$home"
    done < "$system/users/homes"
    replace "$root/var/lib/osconf/ids.json" 644 - - /var/lib/osconf/ids.json < "$system/users/ids.json"

    # Services: the system's own hook, while /run/current-system still names the previous
    # system (also given as $2, empty on a first activation). Its failure is reported
    # after the switch below, so the generation is in place either way.
    if [ -n "$unowned" ]; then
      echo "osconf: warning: not root (or in a user namespace without the ids): these keep the activating user as owner:$unowned" >&2
    fi
    status=0
    if [ -x "$system/activate-services" ]; then
      "$system/activate-services" "$root" "$previous" || status=$?
    fi
    ln -sfn "$system" "$root/run/.current-system.osconf-tmp"
    mv -Tf "$root/run/.current-system.osconf-tmp" "$root/run/current-system"
    exit $status
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
    for f in etc-copies etc-links etc-files; do ln -s ${etc}/$f $out/$f; done
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
