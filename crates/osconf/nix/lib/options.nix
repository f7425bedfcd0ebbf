# osconf's Nix library: option declarations (mkOption), definition properties
# (mkIf, mkMerge, mkOverride and its priorities, mkOrder) and the merge functions and
# error texts shared by the option types.
{ lib }:
let
  inherit (builtins) concatStringsSep head length tail foldl' tryEval filter isList split;

  # Shown after a conflict, as NixOS does.
  prioritySuggestion = "\nUse `lib.mkForce value` or `lib.mkDefault value` to change the priority on any of these definitions.\n";
in
rec {
  mkOption = { type ? null, default ? null, defaultText ? null, example ? null
             , description ? null, internal ? null, visible ? null, readOnly ? null
             , apply ? null, relatedPackages ? null }@attrs:
    attrs // { _type = "option"; };
  mkEnableOption = name: mkOption {
    type = lib.types.bool;
    default = false;
    example = true;
    description = "Whether to enable ${name}.";
  };
  # Option documentation values.
  literalExpression = text: { _type = "literalExpression"; inherit text; };
  literalMD = text: { _type = "literalMD"; inherit text; };
  isOption = x: builtins.isAttrs x && (x._type or "") == "option";

  # Definition properties. Their `_type`s are the same as NixOS's, so a module may mix
  # them with values made by other code.
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  defaultOverridePriority = 100;
  mkOptionDefault = mkOverride 1500;
  mkDefault = mkOverride 1000;
  mkImageMediaOverride = mkOverride 60;
  mkForce = mkOverride 50;
  mkVMOverride = mkOverride 10;
  mkOrder = priority: content: { _type = "order"; inherit priority content; };
  defaultOrderPriority = 1000;
  mkBefore = mkOrder 500;
  mkAfter = mkOrder 1500;

  # `a.b."c d"`: an option's name as NixOS prints it.
  showOption = loc: concatStringsSep "." (map (part:
    if part == "*" || builtins.match "<.*>" part != null || builtins.match "\\[.*]" part != null
    then part else lib.showAttrName part) loc);
  showFiles = files: concatStringsSep " and " (map (f: "`${f}'") files);

  # Where a definition is: its file, and the line and column when known.
  showDefLocation = def:
    let
      pos = def.pos or null;
      at = if pos == null then "" else "${pos.file}:${toString pos.line}:${toString pos.column}";
    in
    if pos == null then "`${def.file}'"
    else if pos.file == def.file then "`${at}'"
    else "`${def.file}' (${at})";

  # "\n- In `file': value" for each definition; a value that fails to print is left out.
  showDefs = defs: lib.concatMapStrings (def:
    let
      shown = tryEval (lib.showValue def.value);
      text = if shown.success then ": " + shown.value else "";
    in "\n- In ${showDefLocation def}${text}") defs;

  getValues = map (def: def.value);
  getFiles = map (def: def.file);

  # All definitions must be equal.
  mergeEqualOption = loc: defs:
    if length defs == 1 then (head defs).value
    else (foldl' (first: def:
      if def.value != first.value then
        throw "The option `${showOption loc}' has conflicting definition values:${showDefs [ first def ]}${prioritySuggestion}"
      else first) (head defs) (tail defs)).value;

  # Only one definition is allowed.
  mergeOneOption = loc: defs:
    if length defs == 1 then (head defs).value
    else throw "The option `${showOption loc}' is defined multiple times while it's expected to be unique.\nDefinition values:${showDefs defs}${prioritySuggestion}";

  mergeDefaultOption = loc: defs:
    let values = getValues defs; in
    if length values == 1 then head values
    else if builtins.all builtins.isFunction values then (x: mergeDefaultOption loc (map (f: { inherit (head defs) file; value = f x; }) values))
    else if builtins.all builtins.isList values then builtins.concatLists values
    else if builtins.all builtins.isAttrs values then foldl' (a: b: a // b) { } values
    else if builtins.all builtins.isBool values then builtins.any (x: x) values
    else if builtins.all builtins.isString values then concatStringsSep "" values
    else throw "Cannot merge definitions of `${showOption loc}'. Definition values:${showDefs defs}";
}
