# A configuration shaped like an OS: packages, files, users, a computed list.
[
  ({ lib, config, ... }: {
    options.networking.hostName = lib.mkOption { type = lib.types.str; default = "nixos"; };
    options.environment.etc = lib.mkOption {
      type = lib.types.attrsOf (lib.types.submodule ({ name, config, ... }: {
        options.text = lib.mkOption { type = lib.types.nullOr lib.types.lines; default = null; };
        options.target = lib.mkOption { type = lib.types.str; default = name; };
        options.mode = lib.mkOption { type = lib.types.str; default = "symlink"; };
      }));
      default = { };
    };
    config.environment.etc.hostname.text = config.networking.hostName;
  })
  ({ lib, ... }: {
    networking.hostName = "box";
    environment.etc."motd".text = lib.mkMerge [ "welcome" (lib.mkAfter "bye") ];
    environment.etc."motd".mode = "0644";
    environment.etc."issue" = { text = "hi"; target = "issue.net"; };
  })
]
