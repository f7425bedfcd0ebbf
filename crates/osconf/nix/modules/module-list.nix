# Every option module of osconf, imported by eval-config.nix for every configuration.
[
  ./misc/assertions.nix
  ./misc/system-build.nix
  ./config/networking.nix
  ./config/time.nix
  ./config/users.nix
  ./config/system-path.nix
  ./config/filesystems.nix
  ./system/etc.nix
  ./system/toplevel.nix
  ./system/init.nix
  ./services/supervised.nix
  ./services/httpd.nix
  ./services/cron.nix
]
