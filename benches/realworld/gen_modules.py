"""Generates the NixOS-like module evaluation of benches/realworld-vs-cppnix.sh.

Layout written under OUT (deterministic), evaluated through nixpkgs lib's `evalModules`:
  base.nix      `users.users` (attrsOf submodule, a nested `openssh` submodule,
                defaults computed from the name), `users.groups`, `systemd.services`
                (attrsOf submodule), `environment.etc`, `networking.firewall`
  svc/sK.nix    one module per service: its options (`enable`, `port`, `user`,
                `extraArgs`, a `settings` submodule with an enum, an attrsOf and
                a nested submodule) and `config = mkIf cfg.enable (mkMerge [...])`
                defining a system user, a systemd unit, an /etc file and
                firewall ports (mkBefore/mkAfter), some only under a further mkIf
  host.nix      the machine: most services enabled, settings overridden with
                mkDefault/mkForce/mkOverride, USERS normal users
  default.nix   evalModules and a summary of the configuration: counts, sums and
                hashes of the generated /etc/passwd, unit files and firewall rules
"""

import os

BASE = r"""{ lib, config, ... }:
with lib;
let
  userOpts = { name, config, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; };
      uid = mkOption { type = types.nullOr types.int; default = null; };
      group = mkOption { type = types.str; default = "users"; };
      extraGroups = mkOption { type = types.listOf types.str; default = [ ]; };
      home = mkOption { type = types.str; };
      shell = mkOption { type = types.str; default = "/run/current-system/sw/bin/bash"; };
      isNormalUser = mkOption { type = types.bool; default = false; };
      isSystemUser = mkOption { type = types.bool; default = false; };
      description = mkOption { type = types.str; default = ""; };
      openssh.authorizedKeys = mkOption {
        default = { };
        type = types.submodule {
          options.keys = mkOption { type = types.listOf types.str; default = [ ]; };
          options.keyFiles = mkOption { type = types.listOf types.str; default = [ ]; };
        };
      };
    };
    config = {
      home = mkDefault (if config.isNormalUser then "/home/${name}" else "/var/empty");
      extraGroups = mkIf config.isNormalUser [ "users" ];
    };
  };
  unitOpts = { name, ... }: {
    options = {
      description = mkOption { type = types.str; default = "Unit ${name}"; };
      wantedBy = mkOption { type = types.listOf types.str; default = [ ]; };
      after = mkOption { type = types.listOf types.str; default = [ ]; };
      environment = mkOption { type = types.attrsOf types.str; default = { }; };
      serviceConfig = mkOption { type = types.attrsOf (types.oneOf [ types.str types.int types.bool ]); default = { }; };
      script = mkOption { type = types.lines; default = ""; };
    };
  };
in
{
  options = {
    users.users = mkOption { type = types.attrsOf (types.submodule userOpts); default = { }; };
    users.groups = mkOption { type = types.attrsOf (types.submodule { options.gid = mkOption { type = types.nullOr types.int; default = null; }; }); default = { }; };
    systemd.services = mkOption { type = types.attrsOf (types.submodule unitOpts); default = { }; };
    environment.etc = mkOption { type = types.attrsOf (types.submodule { options.text = mkOption { type = types.lines; }; }); default = { }; };
    networking.firewall.allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
    networking.hostName = mkOption { type = types.str; default = "nixos"; };
  };
  config.environment.etc.passwd.text = concatStringsSep "\n" (mapAttrsToList
    (n: u: "${u.name}:x:${toString u.uid}:${u.group}:${u.description}:${u.home}:${u.shell}")
    config.users.users);
}
"""


def service(k):
    return f"""{{ lib, config, ... }}:
with lib;
let cfg = config.services.s{k};
in
{{
  options.services.s{k} = {{
    enable = mkEnableOption "service s{k}";
    port = mkOption {{ type = types.port; default = {10000 + k}; }};
    user = mkOption {{ type = types.str; default = "s{k}"; }};
    openFirewall = mkOption {{ type = types.bool; default = {"true" if k % 3 == 0 else "false"}; }};
    extraArgs = mkOption {{ type = types.listOf types.str; default = [ ]; }};
    settings = mkOption {{
      default = {{ }};
      type = types.submodule {{
        options = {{
          logLevel = mkOption {{ type = types.enum [ "debug" "info" "warn" "error" ]; default = "info"; }};
          workers = mkOption {{ type = types.ints.positive; default = {1 + k % 8}; }};
          extra = mkOption {{ type = types.attrsOf types.str; default = {{ }}; }};
          tls = mkOption {{
            default = {{ }};
            type = types.submodule {{
              options.enable = mkOption {{ type = types.bool; default = false; }};
              options.certFile = mkOption {{ type = types.nullOr types.str; default = null; }};
            }};
          }};
        }};
      }};
    }};
  }};
  config = mkIf cfg.enable (mkMerge [
    {{
      users.users.${{cfg.user}} = {{ isSystemUser = true; uid = {1000 + k}; group = "s{k}"; description = "s{k} daemon"; }};
      users.groups.s{k}.gid = {1000 + k};
      systemd.services.s{k} = {{
        wantedBy = [ "multi-user.target" ];
        after = [ "network.target" ] ++ optional ({k} > 0) "s{k - 1}.service";
        environment = {{ S{k}_PORT = toString cfg.port; S{k}_LOG = cfg.settings.logLevel; }} // cfg.settings.extra;
        serviceConfig = {{
          User = cfg.user;
          ExecStart = "/bin/s{k} --port ${{toString cfg.port}} --workers ${{toString cfg.settings.workers}} ${{escapeShellArgs cfg.extraArgs}}";
          Restart = "always";
          PrivateTmp = true;
          LimitNOFILE = {1024 + k};
        }};
        script = ''
          echo starting s{k}
        '';
      }};
      environment.etc."s{k}/config.ini".text = generators.toINI {{ }} {{
        main = {{ port = cfg.port; log = cfg.settings.logLevel; }} // cfg.settings.extra;
      }};
    }}
    (mkIf cfg.openFirewall {{ networking.firewall.allowedTCPPorts = {"mkBefore" if k % 2 else "mkAfter"} [ cfg.port ]; }})
    (mkIf cfg.settings.tls.enable {{
      systemd.services.s{k}.serviceConfig.LoadCredential = "cert:${{cfg.settings.tls.certFile}}";
      systemd.services.s{k}.script = mkAfter "echo tls on";
    }})
  ]);
}}
"""


def host(services, users):
    lines = ["{ lib, ... }:", "with lib;", "{", "  networking.hostName = \"bench\";"]
    for k in range(services):
        if k % 10 == 9:
            continue
        lines.append(f"  services.s{k}.enable = true;")
        if k % 4 == 0:
            lines.append(f"  services.s{k}.settings = {{ logLevel = mkDefault \"warn\"; "
                         f"extra.key{k} = \"v{k}\"; tls = {{ enable = true; certFile = \"/etc/ssl/s{k}.pem\"; }}; }};")
        if k % 5 == 0:
            lines.append(f"  services.s{k}.port = mkForce {20000 + k};")
        if k % 7 == 0:
            lines.append(f"  services.s{k}.extraArgs = mkOverride 90 [ \"--fast\" \"--name=s {k}\" ];")
    lines.append("  users.users = mkMerge [")
    for k in range(users):
        keys = " ".join(f'"ssh-ed25519 AAAA{k}x{j} u{k}@host"' for j in range(k % 3))
        lines.append(f"    {{ u{k} = {{ isNormalUser = true; uid = {5000 + k}; "
                     f"description = \"User {k}\"; extraGroups = [ \"g{k % 10}\" ]; "
                     f"openssh.authorizedKeys.keys = [ {keys} ]; }}; }}")
        if k % 25 == 0:
            lines.append(f"    (mkIf true {{ u{k}.shell = mkForce \"/bin/zsh\"; }})")
    lines.append("  ];")
    lines.append("  users.groups = listToAttrs (genList (g: nameValuePair \"g${toString g}\" { gid = 100 + g; }) 10);")
    lines.append("}")
    return "\n".join(lines) + "\n"


DEFAULT = r"""# The generated module evaluation (see benches/realworld/gen_modules.py).
{ libPath }:
let
  lib = import libPath;
  services = map (k: ./svc + "/s${toString k}.nix") (lib.range 0 (@SERVICES@ - 1));
  eval = lib.evalModules { modules = [ ./base.nix ./host.nix ] ++ services; };
  cfg = eval.config;
  units = lib.mapAttrsToList (name: u: ''
    [Unit]
    Description=${u.description}
    After=${lib.concatStringsSep " " u.after}
    [Service]
    ${lib.concatStringsSep "\n" (lib.mapAttrsToList (k: v: "${k}=${if builtins.isBool v then lib.boolToString v else toString v}") u.serviceConfig)}
    ${lib.concatStringsSep "\n" (lib.mapAttrsToList (k: v: "Environment=${k}=${v}") u.environment)}
    [Install]
    WantedBy=${lib.concatStringsSep " " u.wantedBy}
    # ${u.script}
  '') cfg.systemd.services;
in
{
  options = builtins.length (lib.collect lib.isOption eval.options);
  users = builtins.length (builtins.attrNames cfg.users.users);
  normalUsers = builtins.length (lib.filter (u: u.isNormalUser) (builtins.attrValues cfg.users.users));
  uidSum = lib.foldl' (a: u: a + u.uid) 0 (builtins.attrValues cfg.users.users);
  keys = lib.foldl' (a: u: a + builtins.length u.openssh.authorizedKeys.keys) 0 (builtins.attrValues cfg.users.users);
  units = builtins.length units;
  unitsHash = builtins.hashString "sha256" (lib.concatStrings units);
  etcHash = builtins.hashString "sha256" (lib.concatStrings (lib.mapAttrsToList (n: e: n + e.text) cfg.environment.etc));
  ports = lib.take 5 cfg.networking.firewall.allowedTCPPorts;
  portCount = builtins.length cfg.networking.firewall.allowedTCPPorts;
  hostName = cfg.networking.hostName;
}
"""


def generate(out, services=500, users=600):
    os.makedirs(os.path.join(out, "svc"), exist_ok=True)
    for k in range(services):
        with open(os.path.join(out, "svc", f"s{k}.nix"), "w") as fh:
            fh.write(service(k))
    for name, text in (("base.nix", BASE), ("host.nix", host(services, users)),
                       ("default.nix", DEFAULT.replace("@SERVICES@", str(services)))):
        with open(os.path.join(out, name), "w") as fh:
            fh.write(text)
