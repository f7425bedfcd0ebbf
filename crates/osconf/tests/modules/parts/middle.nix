# Imported by parts/top.nix and again by import-dedup.nix: defines, imports a leaf.
{
  imports = [ ./leaf.nix ];
  items = [ "from middle" ];
}
