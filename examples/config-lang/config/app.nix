# An application's configuration, written in Nix.
#   cargo run -p nixkit-example-config -- examples/config-lang/config/app.nix
let
  lib = import ./lib;
  # `env` is a builtin written in Rust (see src/main.rs); `mkService` one
  # written in Nix source.
  stage = env "STAGE" "dev";
in
{
  name = "shop";
  inherit stage;
  services = {
    web = mkService { port = 8080; replicas = if stage == "prod" then 4 else 1; };
    api = mkService { port = 9000; tls = true; };
  };
  log = lib.levelFor stage;
  motd = builtins.readFile ./motd.txt;
  # Never evaluated: the Rust struct has no field for it.
  experimental = throw "not read";
}
