# A generated osconf configuration for benchmarks: `n` users (normal, in `wheel`), n /etc
# files, n/10 generic services (each after the first) and the HTTP service.
{ n ? 100 }:
let
  numbers = builtins.genList toString n;
  byName = f: list: builtins.listToAttrs (map f list);
in
{
  imports = [
    {
      users.users = byName (i: {
        name = "user${i}";
        value = { isNormalUser = true; extraGroups = [ "wheel" ]; description = "User ${i}"; };
      }) numbers;
    }
    {
      environment.etc = byName (i: { name = "conf.d/file${i}.conf"; value.text = "value = ${i}\n"; }) numbers;
    }
    {
      services = byName (i: {
        name = "svc${i}";
        value = { command = "/run/current-system/sw/bin/svc --id ${i}"; environment.ID = i; after = [ "svc0" ]; };
      }) (builtins.genList toString (n / 10));
    }
  ];
  networking.hostName = "bench";
  services.httpd = { enable = true; port = 8080; documentRoot = "/srv/www"; };
}
