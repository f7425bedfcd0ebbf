# osconf's Nix library: the list, set and string helpers the module system and the
# option modules use (each a thin wrapper over a builtin, or a short linear fold).
{ lib }:
let
  inherit (builtins)
    attrNames concatLists concatStringsSep filter foldl' genList head isAttrs isFunction
    isList isPath isString length listToAttrs mapAttrs substring stringLength tail typeOf
    ;
in
{
  inherit (builtins)
    attrNames attrValues concatLists concatStringsSep elem elemAt filter foldl' head
    isAttrs isBool isFunction isInt isList isPath isString length listToAttrs mapAttrs tail
    toJSON typeOf removeAttrs hasAttr getAttr zipAttrsWith genericClosure functionArgs
    ;

  id = x: x;
  const = x: _: x;
  flip = f: a: b: f b a;
  concatMap = f: list: concatLists (map f list);
  concatMapStrings = f: list: concatStringsSep "" (map f list);
  concatMapStringsSep = sep: f: list: concatStringsSep sep (map f list);
  imap1 = f: list: genList (n: f (n + 1) (builtins.elemAt list n)) (length list);
  last = list: builtins.elemAt list (length list - 1);
  reverseList = list: let n = length list; in if n < 2 then list else genList (i: builtins.elemAt list (n - i - 1)) n;
  toList = x: if isList x then x else [ x ];
  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
  optionalString = cond: s: if cond then s else "";
  optionalAttrs = cond: set: if cond then set else { };
  all = builtins.all;
  any = builtins.any;
  take = n: list: genList (builtins.elemAt list) (if n < length list then n else length list);
  # The distinct strings of `list`, first occurrences in order, in O(n log n).
  uniqueStrings = list:
    map (x: x.key) (builtins.genericClosure { startSet = map (key: { inherit key; }) list; operator = _: [ ]; });
  unique = list: foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ] list;

  nameValuePair = name: value: { inherit name value; };
  filterAttrs = pred: set:
    listToAttrs (concatLists (map (name:
      let value = set.${name}; in if pred name value then [ { inherit name value; } ] else [ ]
    ) (attrNames set)));
  mapAttrsToList = f: set: map (name: f name set.${name}) (attrNames set);
  mapAttrs' = f: set: listToAttrs (map (name: f name set.${name}) (attrNames set));
  genAttrs = names: f: listToAttrs (map (name: { inherit name; value = f name; }) names);
  attrByPath = path: default: set:
    if path == [ ] then set
    else if isAttrs set && set ? ${head path} then lib.attrByPath (tail path) default set.${head path}
    else default;
  setAttrByPath = path: value:
    if path == [ ] then value else { ${head path} = lib.setAttrByPath (tail path) value; };
  drop = n: list: genList (i: builtins.elemAt list (i + n)) (if n < length list then length list - n else 0);
  recursiveUpdate = a: b:
    a // mapAttrs (name: v:
      if isAttrs v && !(v ? type && v.type == "derivation") && a ? ${name} && isAttrs a.${name}
      then lib.recursiveUpdate a.${name} v
      else v) b;

  hasPrefix = prefix: s: substring 0 (stringLength prefix) s == prefix;
  removePrefix = prefix: s:
    if lib.hasPrefix prefix s then substring (stringLength prefix) (stringLength s) s else s;
  isDerivation = x: isAttrs x && (x.type or null) == "derivation";
  isStorePath = x:
    (isString x || isPath x) && builtins.match "${builtins.storeDir}/[^/]+" (toString x) != null;

  # A short one-line rendering of a value for error messages (never fails: callers
  # wrap it in tryEval).
  showValue =
    let
      go = depth: v:
        if depth > 8 then "..."
        else if isString v then builtins.toJSON v
        else if isPath v then toString v
        else if v == null then "null"
        else if v == true then "true"
        else if v == false then "false"
        else if isList v then "[ " + concatStringsSep "" (map (x: go (depth + 1) x + " ") v) + "]"
        else if isFunction v then "<function>"
        else if isAttrs v then
          if lib.isDerivation v then "<derivation ${v.name or "?"}>"
          else "{ " + concatStringsSep "" (map (n: "${lib.showAttrName n} = ${go (depth + 1) v.${n}}; ") (attrNames v)) + "}"
        else toString v;
    in go 0;
  showAttrName = n: if builtins.match "[a-zA-Z_][a-zA-Z0-9_'-]*" n != null then n else builtins.toJSON n;
}
