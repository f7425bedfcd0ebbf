# `assertions` and `warnings`: checks any module can add; eval-config.nix fails on a false
# assertion ("Failed assertions: - ...") and prints the warnings.
{ lib, ... }:
{
  options.assertions = lib.mkOption {
    type = lib.types.listOf lib.types.attrs;
    default = [ ];
    example = [ { assertion = false; message = "you can't enable this for that reason"; } ];
    description = "Conditions ({ assertion; message; }) that must hold for the configuration to build.";
  };
  options.warnings = lib.mkOption {
    type = lib.types.listOf lib.types.str;
    default = [ ];
    description = "Messages printed when the configuration is evaluated.";
  };
}
