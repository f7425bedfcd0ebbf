# The system's init and service supervision, all in the system closure (busybox shell):
# `$system/init` (pid 1 of a container: mounts, activation, services, zombie reaping,
# shutdown on SIGTERM), `$system/activate-services ROOT` (the live switch of services:
# stop removed ones, restart changed ones, start new ones, leave the rest alone) and
# `$system/services/<name>` (one store path per service definition: its `run` script,
# `restart` policy and `restart-delay`; `$system/services/order` lists them in start
# order, `after` first).
{ config, lib, pkgs, ... }:
let
  tools = "${pkgs.tools}";
  sh = "${tools}/bin/sh";
  services = config.system.build.services;
  # `'s'` for the shell.
  quote = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] s + "'";
  runCommand = name: env: script: derivation ({
    inherit name;
    system = builtins.currentSystem;
    builder = sh;
    args = [ "-e" "-c" script ];
    PATH = "${tools}/bin";
  } // env);

  # A shell script in the store: the shebang, the tools on PATH, then `file`'s text.
  script = name: file: pkgs.writeText name (''
    #!${sh}
    tools=${tools}
    export PATH=${tools}/bin
  '' + builtins.readFile file);

  # The start order: every service after the services of its `after` list; a cycle is
  # an error naming the services on it.
  order =
    let
      visit = state: name:
        if builtins.elem name state.done then state
        else if builtins.elem name state.path then
          throw "services.${name}.after: a dependency cycle (${builtins.concatStringsSep " -> " (state.path ++ [ name ])})"
        else
          let
            # Being after oneself means nothing.
            after = builtins.filter (dep: dep != name) services.${name}.after;
            deps = builtins.foldl' visit (state // { path = state.path ++ [ name ]; }) after;
          in
          deps // { path = state.path; done = deps.done ++ [ name ]; };
    in
    (builtins.foldl' visit { done = [ ]; path = [ ]; } (builtins.attrNames services)).done;

  # The run script: environment, working directory, then the command as the service's
  # user and group. Dropping privileges re-runs the script (`--as-user`) through busybox
  # start-stop-daemon -c UID:GID, which sets the supplementary groups from the system's
  # own /etc/group (initgroups: the groups listing the user, e.g. its extraGroups) before
  # the gid and uid. Where the container cannot switch to those ids (osconf run by an
  # unprivileged user maps only that user, as the container's root), the service is
  # refused with exit status 78 (EX_CONFIG; the supervisor does not restart it), never
  # run as another identity.
  runScript = name: s: ''
    #!${sh}
    # The osconf service `${name}`: its environment, working directory and user, then its command.
    export PATH=/run/current-system/sw/bin:${tools}/bin
    ${builtins.concatStringsSep "" (lib.mapAttrsToList (k: v: "export ${k}=${quote v}\n") s.environment)}
    cd ${quote (if s.workingDirectory == null then "/" else s.workingDirectory)} || exit 1
    if [ "''${1:-}" != --as-user ]; then
      user=${quote s.user}
      group=${quote s.group}
      uid=$(${tools}/bin/awk -F: -v n="$user" '$1 == n { print $3; exit }' /etc/passwd)
      gid=$(${tools}/bin/awk -F: -v n="$group" '$1 == n { print $3; exit }' /etc/group)
      if [ -z "$uid" ] || [ -z "$gid" ]; then
        echo "osconf: service ${name}: user $user or group $group is not in /etc/passwd, /etc/group" >&2
        exit 1
      fi
      if [ "$uid:$gid" != "$(${tools}/bin/id -u):$(${tools}/bin/id -g)" ]; then
        drop="${tools}/bin/start-stop-daemon -S -q -p /dev/null -c $uid:$gid -x"
        if ! $drop ${tools}/bin/true 2>/dev/null; then
          read -r inside outside count < /proc/self/uid_map
          echo "osconf: service ${name}: refusing to start: it runs as user $user (uid $uid) and group $group (gid $gid), and this container cannot switch to them (its uid map is '$inside $outside $count': osconf runs unprivileged, so only the caller's uid is mapped); run osconf as root, or declare the service with user and group root" >&2
          exit 78
        fi
        exec $drop ${sh} -- "$0" --as-user
      fi
    fi
    exec ${s.command}
  '';

  serviceDir = name: s: runCommand "osconf-service-${name}" {
    passAsFile = [ "run" ];
    run = runScript name s;
    restart = s.restart;
    restartDelay = toString s.restartDelay;
  } ''
    mkdir $out
    cp "$runPath" $out/run
    chmod 555 $out/run
    echo "$restart" > $out/restart
    echo "$restartDelay" > $out/restart-delay
  '';

  serviceTree = runCommand "osconf-services" {
    passAsFile = [ "order" ];
    order = lib.concatMapStrings (n: n + "\n") order;
  } ''
    mkdir $out
    cp "$orderPath" $out/order
    ${builtins.concatStringsSep "" (lib.mapAttrsToList (n: s: "ln -s ${serviceDir n s} $out/${quote n}\n") services)}
  '';

  supervise = script "osconf-supervise" ./supervise.sh;
  initScript = script "osconf-init" ./init.sh;
in
{
  options.system = {
    toplevelScripts = lib.mkOption {
      type = lib.types.attrsOf lib.types.path;
      default = { };
      description = "Executables of the system toplevel (`$system/<name>`), copied from these files with `@out@` replaced by the toplevel's path.";
    };
    toplevelLinks = lib.mkOption {
      type = lib.types.attrsOf lib.types.path;
      default = { };
      description = "Symbolic links in the system toplevel (`$system/<name>`) to these paths.";
    };
  };
  config.system = {
    # The init program, installed as `$system/init` with the system's path filled in.
    build.init = initScript;
    toplevelScripts = {
      init = initScript;
      activate-services = pkgs.writeText "osconf-activate-services" (''
        #!${sh}
        tools=${tools}
        export PATH=${tools}/bin
        supervise=${supervise}
      '' + builtins.readFile ./activate-services.sh);
    };
    toplevelLinks.services = serviceTree;
  };
}
