# osconf's Nix library: option types. A type is a set with `name`, `description`,
# `check` (a definition's value is acceptable), `merge` (loc: defs: value) and optionally
# `mergeWith` (combines two declarations of one option, e.g. two submodule declarations).
# `simple` marks types whose merge of one definition is the definition itself, so list
# and set elements of such types skip the full definition merge.
{ lib }:
let
  inherit (builtins)
    all attrNames catAttrs concatLists concatStringsSep elem filter isAttrs isBool isFunction isInt
    isList isPath isString length mapAttrs toJSON zipAttrsWith
    ;
  inherit (lib) mergeEqualOption mergeOneOption showOption showDefs imap1;

  mkOptionType = { name, description ? name, check ? (_: true), merge ? mergeEqualOption
                 , simple ? false, mergeWith ? null, nestedTypes ? { }, modules ? null }:
    if modules == null then { _type = "option-type"; inherit name description check merge simple mergeWith nestedTypes; }
    else { _type = "option-type"; inherit name description check merge simple mergeWith nestedTypes modules; };

  # Merges the definitions of one element of a list or set.
  # The value of one plain definition (no property) of an element.
  plainElement = loc: type: def:
    if !(type.check def.value) then
      throw "A definition for option `${showOption loc}' is not of type `${type.description}'. Definition values:${showDefs [ def ]}"
    else if type.simple then def.value
    else type.merge loc [ def ];

  mergeElement = loc: type: def:
    let v = def.value; in
    if type.simple && !(isAttrs v && v ? _type) then
      (if type.check v then { value = v; }
       else throw "A definition for option `${showOption loc}' is not of type `${type.description}'. Definition values:${showDefs [ def ]}")
    else lib.mergeDefinitions loc type [ def ];

  self = {
    inherit mkOptionType;
    isType = name: t: isAttrs t && (t._type or "") == "option-type" && t.name == name;

    raw = mkOptionType { name = "raw"; description = "raw value"; merge = mergeOneOption; simple = true; };
    anything = mkOptionType {
      name = "anything";
      description = "anything";
      merge = loc: defs:
        let values = map (d: d.value) defs; in
        if all isAttrs values && !(builtins.any lib.isDerivation values) then
          mapAttrs (name: ds: (lib.mergeDefinitions (loc ++ [ name ]) self.anything ds).value)
            (zipAttrsWith (n: ds: ds) (map (d: mapAttrs (n: v: { inherit (d) file; value = v; }) d.value) defs))
        else if all isList values then concatLists values
        else mergeEqualOption loc defs;
    };
    unspecified = mkOptionType { name = "unspecified"; description = "unspecified value"; merge = lib.mergeDefaultOption; };
    attrs = mkOptionType {
      name = "attrs";
      description = "attribute set";
      check = isAttrs;
      merge = loc: defs: builtins.foldl' (a: d: a // d.value) { } defs;
      # One definition merges to itself (`{ } // value`).
      simple = true;
    };

    bool = mkOptionType { name = "bool"; description = "boolean"; check = isBool; simple = true; };
    int = mkOptionType { name = "int"; description = "signed integer"; check = isInt; simple = true; };
    ints = {
      between = lo: hi: mkOptionType {
        name = "intBetween";
        description = "integer between ${toString lo} and ${toString hi} (both inclusive)";
        check = x: isInt x && x >= lo && x <= hi;
        simple = true;
      };
      unsigned = mkOptionType { name = "unsignedInt"; description = "unsigned integer, meaning >=0"; check = x: isInt x && x >= 0; simple = true; };
      positive = mkOptionType { name = "positiveInt"; description = "positive integer, meaning >0"; check = x: isInt x && x > 0; simple = true; };
    };
    port = (self.ints.between 0 65535) // { name = "port"; description = "16 bit unsigned integer; between 0 and 65535 (both inclusive)"; };

    str = mkOptionType { name = "str"; description = "string"; check = isString; simple = true; };
    nonEmptyStr = mkOptionType {
      name = "nonEmptyStr";
      description = "non-empty string";
      check = x: isString x && builtins.match "[ \t\n]*" x == null;
      simple = true;
    };
    separatedString = sep: mkOptionType {
      name = "separatedString";
      description = if sep == "" then "Concatenated string" else "strings concatenated with ${toJSON sep}";
      check = isString;
      merge = loc: defs: concatStringsSep sep (map (d: d.value) defs);
      simple = true;
    };
    lines = self.separatedString "\n";
    commas = self.separatedString ",";
    path = mkOptionType {
      name = "path";
      description = "path";
      check = x: isPath x || lib.isDerivation x || (isString x && lib.hasPrefix "/" x);
      simple = true;
    };
    package = mkOptionType {
      name = "package";
      description = "package";
      check = x: lib.isDerivation x || lib.isStorePath x;
      merge = mergeOneOption;
      simple = true;
    };
    enum = values: mkOptionType {
      name = "enum";
      description = "one of ${concatStringsSep ", " (map lib.showValue values)}";
      check = x: elem x values;
      simple = true;
    };

    nullOr = t: mkOptionType {
      name = "nullOr";
      description = "null or ${t.description}";
      check = x: x == null || t.check x;
      simple = t.simple;
      nestedTypes.elemType = t;
      merge = loc: defs:
        let nulls = length (filter (d: d.value == null) defs); in
        if nulls == length defs then null
        else if nulls != 0 then
          throw "The option `${showOption loc}' is defined both null and not null, in ${lib.showFiles (lib.getFiles defs)}."
        else t.merge loc defs;
      mergeWith = other:
        let e = self.mergeTypes t other.nestedTypes.elemType; in
        if e == null then null else self.nullOr e;
    };
    either = a: b: mkOptionType {
      name = "either";
      description = "${a.description} or ${b.description}";
      check = x: a.check x || b.check x;
      simple = a.simple && b.simple;
      nestedTypes = { left = a; right = b; };
      merge = loc: defs:
        if all (d: a.check d.value) defs then a.merge loc defs
        else if all (d: b.check d.value) defs then b.merge loc defs
        else mergeOneOption loc defs;
    };
    oneOf = ts: builtins.foldl' self.either (builtins.head ts) (builtins.tail ts);

    listOf = t: mkOptionType {
      name = "listOf";
      description = "list of ${t.description}";
      check = isList;
      nestedTypes.elemType = t;
      merge = loc: defs:
        let values = concatLists (catAttrs "value" defs); in
        # Elements of a simple type, none a property, all of the type: the list itself.
        if t.simple && all (v: !(isAttrs v && v ? _type) && t.check v) values then values
        else map (r: r.value) (filter (r: r ? value) (concatLists (imap1 (n: def:
          imap1 (m: v: mergeElement (loc ++ [ "[definition ${toString n}-entry ${toString m}]" ]) t { inherit (def) file; value = v; })
            def.value) defs)));
      mergeWith = other:
        let e = self.mergeTypes t other.nestedTypes.elemType; in
        if e == null then null else self.listOf e;
    };
    attrsOf = t: self.attrsWith { elemType = t; lazy = false; };
    lazyAttrsOf = t: self.attrsWith { elemType = t; lazy = true; };
    attrsWith = { elemType, lazy }: mkOptionType {
      name = if lazy then "lazyAttrsOf" else "attrsOf";
      description = (if lazy then "lazy attribute set of " else "attribute set of ") + elemType.description;
      check = isAttrs;
      nestedTypes.elemType = elemType;
      merge = loc: defs:
        let
          single = builtins.tail defs == [ ];
          only = (builtins.head defs).value;
          # (Strict sets only: these look at every element.) No element is a property, so
          # every element is defined and needs no priorities.
          plainElements = !lazy && all (d: all (v: !(isAttrs v && v ? _type)) (builtins.attrValues d.value)) defs;
          # One definition of a set of a simple type, all elements of the type: the set itself.
          plainOnly = plainElements && single && elemType.simple && all elemType.check (builtins.attrValues only);
          plainByName =
            if single then mapAttrs (name: v: plainElement (loc ++ [ name ]) elemType { inherit (builtins.head defs) file; value = v; }) only
            else zipAttrsWith (name: ds:
              if builtins.tail ds == [ ] then plainElement (loc ++ [ name ]) elemType (builtins.head ds)
              else (lib.mergeDefinitions (loc ++ [ name ]) elemType ds).value)
              (map (d: mapAttrs (n: v: { inherit (d) file; value = v; }) d.value) defs);
          byName = zipAttrsWith (name: ds:
            if lazy then (lib.mergeDefinitions (loc ++ [ name ]) elemType ds).value
            else if builtins.tail ds == [ ] then mergeElement (loc ++ [ name ]) elemType (builtins.head ds)
            else lib.mergeDefinitions (loc ++ [ name ]) elemType ds)
            (map (d: mapAttrs (n: v: { inherit (d) file; value = v; }) d.value) defs);
        in
        if plainOnly then only
        else if plainElements then plainByName
        else if lazy then byName
        else mapAttrs (n: r: r.value)
          (removeAttrs byName (filter (n: !(byName.${n} ? value)) (attrNames byName)));
      mergeWith = other:
        let e = self.mergeTypes elemType other.nestedTypes.elemType; in
        if e == null then null else self.attrsWith { elemType = e; inherit lazy; };
    };

    # A set of options of its own, evaluated as a module system; `name` (the last part of
    # the option's name, e.g. the user's name in `users.users.<name>`) is given to its modules.
    submodule = module: self.submoduleWith { modules = lib.toList module; };
    submoduleWith = { modules, specialArgs ? { } }: mkOptionType {
      name = "submodule";
      description = "submodule";
      check = x: isAttrs x || isFunction x || isPath x;
      inherit modules;
      merge = loc: defs:
        let
          # Definitions that are all sets (the usual case) are given as config, unloaded.
          sets = all (d: isAttrs d.value) defs;
        in
        (lib.evalModuleSet {
          prefix = loc;
          specialArgs = specialArgs // { name = lib.last loc; };
          configs = if sets then defs else [ ];
          # A set given as a definition is config only (its `options` is an option's
          # value, not a declaration); functions and paths are modules.
          # The type's own modules come after the definitions, so they merge first (as
          # NixOS orders them: it imports them from a wrapper module).
          modules = if sets then modules else map (d:
            if isAttrs d.value then { _file = d.file; config = d.value; }
            else { _file = d.file; imports = [ d.value ]; }) defs ++ modules;
        }).config;
      mergeWith = other: self.submoduleWith { modules = modules ++ other.modules; inherit specialArgs; };
    };

    # Two declarations of one option: the combined type, or null when they do not combine.
    mergeTypes = a: b:
      if a.name == b.name && a.mergeWith != null then a.mergeWith b
      else null;
  };
in
self
