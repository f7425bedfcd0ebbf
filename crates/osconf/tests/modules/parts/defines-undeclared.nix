# Used by err-undeclared.nix: defines a.c, which is not declared.
{
  a.b = 1;
  a.c = 2;
}
