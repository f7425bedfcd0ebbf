# osconf's Nix library: the module system. `evalModules { modules; specialArgs; prefix; }`
# collects the modules and their imports (each once, by key), merges their option
# declarations into one tree and evaluates every option from the definitions of all
# modules. Every step is linear in the number of declarations and definitions: sets are
# grouped by name with `zipAttrsWith`, never by scanning the module list per option.
# The usual cases (one declaring module, one plain definition or only the default, a
# simple type) take short paths that give what the general merge gives
# (crates/osconf/tests/differential.rs checks both against nixpkgs lib).
{ lib }:
let
  inherit (builtins)
    attrNames catAttrs concatLists filter foldl' functionArgs genericClosure head isAttrs isBool
    isFunction isPath isString length mapAttrs removeAttrs tail typeOf zipAttrsWith
    ;
  inherit (lib) showOption showDefs showFiles isOption imap1 concatMap;
  # The priority of an option's default (a definition of `mkOptionDefault`).
  optionDefaultPriority = (lib.mkOptionDefault null).priority;

  # The keys a module with `options` or `config` may have besides those two.
  structuredKeys = [ "_file" "key" "imports" "options" "config" "meta" "disabledModules" "_class" "freeformType" ];
  # The keys of a shorthand module (one without `options`/`config`) that are not config.
  shorthandKeys = [ "_file" "key" "imports" "meta" "disabledModules" "_class" "freeformType" ];

  # A module given as a path, a function or a set, as { file; key; imports; options; value; }
  # (`value` is its config; the fields are named so the module is both a declaration and a
  # definition record of `mergeLevel`).
  loadModule = args: file: key: m:
    if isPath m || isString m then
      let path = toString m; in loadModule args path path (import m)
    else if isFunction m then
      normalise file key (applyModule args key m)
    else if isAttrs m then
      (let t = m._type or ""; in
       if t == "if" || t == "override" || t == "merge" then normalise file key { config = m; }
       else normalise file key m)
    else
      throw "A module in `${file}' is a ${typeOf m}, not a module (a set, a function or a path).";

  # Calls a function module with the arguments it names: the module system's own
  # (`config`, `options`, `lib`), `specialArgs`, then `config._module.args` (e.g. `pkgs`),
  # each looked up only when the module uses it.
  # (`args.values` is the arguments set and `args.names` its names: a module taking only
  # those is called with the set itself, not a copy.)
  applyModule = args: key: f:
    let missing = removeAttrs (functionArgs f) args.names; in
    if missing == { } then f args.values
    else f (args.values // mapAttrs (name: _: args.values.config._module.args.${name} or
      (throw "The module `${key}' takes an argument `${name}', which is not given by specialArgs or `_module.args'."))
      missing);

  normalise = file: key: m:
    let
      structured = m ? options || m ? config;
      extra = attrNames (removeAttrs m structuredKeys);
      name = toString (m._file or file);
    in
    if structured && extra != [ ] then
      throw "Module `${name}' has an unsupported attribute `${head extra}'. This is caused by introducing a top-level `config' or `options' attribute. Add configuration attributes immediately on the top level instead, or move all of them (namely: ${toString extra}) into the explicit `config' attribute."
    else {
      file = name;
      key = toString (m.key or key);
      freeformType = m.freeformType or null;
      imports = m.imports or [ ];
      disabledModules = m.disabledModules or [ ];
      options = if structured then m.options or { } else { };
      value = if structured then m.config or { } else removeAttrs m shorthandKeys;
    };

  # Every module reachable through `imports`, each key once, in breadth-first order
  # (the order NixOS uses, so lists merge in the same order).
  # Modules named in any module's `disabledModules` (a path, a string relative to
  # specialArgs.modulesPath, or a set with a `key`) are left out with their imports.
  collect = args: modules:
    let
      entry = parent: i: m:
        let mod = loadModule args parent.file "${parent.key}:anon-${toString i}" m;
        in { key = mod.key; inherit mod; };
      # One module importing nothing (a submodule's usual one) is all there is.
      one = entry { file = "<unknown-file>"; key = ""; } 1 (head modules);
      closure = keep: if modules != [ ] && tail modules == [ ] && one.mod.imports == [ ] then filter keep [ one ] else genericClosure {
        startSet = filter keep (imap1 (entry { file = "<unknown-file>"; key = ""; }) modules);
        operator = e: filter keep (imap1 (entry e.mod) e.mod.imports);
      };
      all = closure (_: true);
      disabledKeys = map disabledKey (concatLists (catAttrs "disabledModules" (catAttrs "mod" all)));
      disabledKey = d:
        if isAttrs d then toString (d.key or (throw "A `disabledModules' entry is a set without `key'."))
        else if isString d && !(lib.hasPrefix "/" d) then
          (if args.values.specialArgs ? modulesPath then "${toString args.values.specialArgs.modulesPath}/${d}"
           else throw "A `disabledModules' entry `${d}' is relative, but specialArgs has no modulesPath.")
        else toString d;
      disabled = builtins.listToAttrs (map (name: { inherit name; value = true; }) disabledKeys);
    in
    catAttrs "mod" (if disabledKeys == [ ] then all else closure (e: !(disabled ? ${e.key})));

  # `mkMerge`, and `mkIf`/`mkOverride` around a set, moved down onto the set's attributes.
  pushDown = value:
    let t = value._type or ""; in
    if t == "merge" then concatMap pushDown value.contents
    else if t == "if" then
      map (mapAttrs (n: v: { _type = "if"; inherit (value) condition; content = v; })) (pushDown value.content)
    else if t == "override" then
      map (mapAttrs (n: v: { _type = "override"; inherit (value) priority; content = v; })) (pushDown value.content)
    else [ value ];

  # One level of the option tree. `decls`: [{ file; options; }] where `options` is a set of
  # options and namespaces; `defs`: [{ file; value; }] where `value` defines this level.
  mergeLevel = mergeLevelWith { };

  # `mergeLevel` with `extra`, declarations by name added after those of `decls` (the
  # module system's own `_module`, so a submodule's one module of options is, at its
  # root, the only one declaring and its options need no grouping).
  mergeLevelWith = extra: loc: decls: defs:
    let
      declaring = filter (d: d.options != { }) decls;
      # One module declaring at this level (the usual case below the top): its options
      # are the entries, without grouping declarations by name.
      oneDeclaring = declaring != [ ] && tail declaring == [ ];
      only = head declaring;
      own = zipAttrsWith (n: ds: ds)
        (map (d: mapAttrs (n: v: { inherit (d) file; options = v; }) d.options) declaring);
      declsByName = if extra == { } then own else own // mapAttrs (n: ds: (own.${n} or [ ]) ++ ds) extra;
      # Definitions that are plain sets (the usual case) are kept as they are.
      pushed = concatMap (d: if isAttrs d.value && !(d.value ? _type) then [ d ] else map (v:
        if isAttrs v then { inherit (d) file; value = v; }
        else throw "The option `${showOption loc}' is a set of options, but it is defined as a ${typeOf v}:${showDefs [ (d // { value = v; }) ]}")
        (pushDown d.value)) defs;
      defsByName = zipAttrsWith (n: ds: ds) (map (d: mapAttrs (n: v: {
        inherit (d) file;
        value = v;
        pos = builtins.unsafeGetAttrPos n d.value;
      }) d.value) pushed);

      # An option declared once (the usual case) is evaluated without further checks.
      entries =
        if oneDeclaring then
          mapAttrs (name: o:
            if (o._type or null) == "option" && !(extra ? ${name}) then evalOption (loc ++ [ name ]) o only.file (defsByName.${name} or [ ])
            else mergeEntry (loc ++ [ name ]) ([ { inherit (only) file; options = o; } ] ++ extra.${name} or [ ]) (defsByName.${name} or [ ])
          ) only.options
          // mapAttrs (name: ds: mergeEntry (loc ++ [ name ]) ds (defsByName.${name} or [ ])) (removeAttrs extra (attrNames only.options))
        else mapAttrs (name: ds:
          if tail ds == [ ] && ((head ds).options._type or null) == "option" then evalOption (loc ++ [ name ]) (head ds).options (head ds).file (defsByName.${name} or [ ])
          else mergeEntry (loc ++ [ name ]) ds (defsByName.${name} or [ ])
        ) declsByName;

      undeclared = map (name: { loc = loc ++ [ name ]; defs = defsByName.${name}; })
        (attrNames (removeAttrs defsByName (attrNames entries)));
    in {
      config = mapAttrs (n: e: if e.isOption then e.value else e.level.config) entries;
      options = mapAttrs (n: e: if e.isOption then e.option else e.level.options) entries;
      # (A namespace nothing defines has no undefined options below it.)
      unmatched = undeclared ++ concatMap (n:
        let e = entries.${n}; in if e.isOption then [ ] else e.level.unmatched)
        (attrNames (builtins.intersectAttrs defsByName entries));
    };

  # An entry of an option tree level other than one option declared once: options
  # (merged) or namespaces (a level below), not both.
  mergeEntry = loc: ds: defs:
    let
      optDecls = filter (d: isOption d.options) ds;
      nsDecls = filter (d: !isOption d.options) ds;
    in
    if optDecls == [ ] then {
      isOption = false;
      level = mergeLevel loc (map (d:
        if isAttrs d.options then d
        else throw "The option declaration `${showOption loc}' in `${d.file}' is a ${typeOf d.options}, not an option or a set of options.") ds) defs;
    }
    else if nsDecls != [ ] then
      throw "The option `${showOption loc}' in ${showFiles (map (d: d.file) optDecls)} is a prefix of options in ${showFiles (map (d: d.file) nsDecls)}."
    else if tail optDecls == [ ] then evalOption loc (head optDecls).options (head optDecls).file defs
    else evalOption loc (mergeDecls loc optDecls) null defs;

  # Several declarations of one option make one: at most one default, and types that
  # combine (submodules extend each other).
  mergeDecls = loc: decls:
    let
      merged = foldl' (acc: d:
        let
          o = d.options;
          clash = throw "The option `${showOption loc}' in `${d.file}' is already declared in ${showFiles acc.declarations}.";
          type =
            if (o.type or null) == null then acc.type
            else if acc.type == null then o.type
            else let t = lib.types.mergeTypes acc.type o.type; in if t == null then clash else t;
        in
        if o ? default && acc ? default then clash
        else acc // removeAttrs o [ "type" ] // { inherit type; declarations = acc.declarations ++ [ d.file ]; }
      ) { type = null; declarations = [ ]; } (lib.reverseList decls); # in module order
    in
    merged // { type = if merged.type == null then lib.types.unspecified else merged.type; };

  # One option's value, and (built only when `options` is looked at) the option as a
  # set: its declaration with `value`, `loc`, `files`, `definitions`, `highestPrio`.
  # `opt` is one declaration, made in `file`, taken as it is, or several merged
  # (`mergeDecls`, with `declarations`; `file` is null).
  evalOption = loc: opt: file: defs:
    let
      type = if (opt.type or null) == null then lib.types.unspecified else opt.type;
      # The definition whose value is the option's value, without a merge: the only one
      # (or the default), plain, of a type whose merge of one definition is the definition.
      only =
        if defs == [ ] then (if opt ? default then { file = if file != null then file else head opt.declarations; value = opt.default; } else null)
        else if tail defs == [ ] then head defs
        else null;
      fast = only != null && type.simple && !(isAttrs only.value && only.value ? _type);
      # The definitions merged by the type, the default among them: { defsFinal;
      # highestPrio; value?; }. The default counts as a definition of priority 1500; it
      # matters only when no definition is left of a better priority, which plain
      # definitions always are.
      merged =
        let
          declarations = if file != null then [ file ] else opt.declarations;
          defaultDef = { file = head declarations; value = opt.default; };
          # The default as a definition among others (of its priority, 1500).
          defaultOverride = { file = head declarations; value = lib.mkOptionDefault opt.default; };
          withDefault =
            if opt ? default then mergeDefinitions loc type ([ defaultOverride ] ++ defs)
            else mergeDefinitions loc type defs;
        in
        if (opt.readOnly or false) && length defs > 1 then
          throw "The option `${showOption loc}' is read-only, but it's set multiple times. Definition values:${showDefs defs}"
        else if defs == [ ] then mergeDefinitions loc type (if opt ? default then [ defaultDef ] else [ ])
        else if !hasProperties defs then mergeDefinitions loc type defs
        else if tail defs == [ ] then
          # One definition under properties (`mkIf c (mkDefault v)`), resolved first: it
          # beats the default, unless it is gone (mkIf false) or of the default's priority
          # or worse.
          (let ds = discharge loc (head defs); in
           if ds == [ ] then (if opt ? default then oneDischarged loc type defaultOverride else mergeDischarged loc type [ ])
           else if tail ds == [ ] && (!(opt ? default) || prioOf (head ds) < optionDefaultPriority) then oneDischarged loc type (head ds)
           else withDefault)
        else withDefault;
      # (Written twice, with and without `apply`, to make no thunk for the value before it.)
      value =
        if !(opt ? apply) then
          (if fast then (if type.check only.value then only.value else notOfType loc type [ only ])
           else if merged ? value then merged.value
           else noValue loc)
        else opt.apply
          (if fast then (if type.check only.value then only.value else notOfType loc type [ only ])
           else if merged ? value then merged.value
           else noValue loc);
    in {
      isOption = true;
      inherit value;
      option = optionSet loc opt type (if file != null then [ file ] else opt.declarations)
        defs value (if fast then null else merged) only;
    };

  # `mergeDischarged` of one definition: without sorting or priorities when it is plain
  # or one `mkOverride` of a plain value, of a simple type.
  oneDischarged = loc: type: d:
    let v = d.value; t = v._type or ""; in
    if t == "" && type.simple then
      { defsFinal = [ d ]; highestPrio = lib.defaultOverridePriority; value = if type.check v then v else notOfType loc type [ d ]; }
    else if t == "override" && type.simple && !(isAttrs v.content && v.content ? _type) then
      let stripped = d // { value = v.content; }; in
      { defsFinal = [ stripped ]; highestPrio = v.priority; value = if type.check v.content then v.content else notOfType loc type [ stripped ]; }
    else mergeDischarged loc type [ d ];

  # An option as `options` shows it. `merged` is null when `only` is its one definition.
  optionSet = loc: opt: type: declarations: defs: value: merged: only:
    let defsFinal = if merged == null then [ only ] else merged.defsFinal; in
    opt // {
      _type = "option";
      inherit loc value type declarations;
      isDefined = merged == null || merged ? value;
      files = lib.uniqueStrings (map (d: d.file) defsFinal);
      definitions = map (d: d.value) defsFinal;
      definitionsWithLocations = defsFinal;
      highestPrio =
        if defs == [ ] && opt ? default then 1500
        else if merged == null then lib.defaultOverridePriority
        else merged.highestPrio;
    };

  # `mkMerge` and `mkIf` resolved: the definitions a definition stands for.
  discharge = loc: d:
    let v = d.value; t = v._type or ""; in
    if t == "merge" then concatMap (c: discharge loc (d // { value = c; })) v.contents
    else if t == "if" then
      (if !isBool v.condition then
        throw "`mkIf' called with a non-Boolean condition (a ${typeOf v.condition}) in a definition of `${showOption loc}' in `${d.file}'."
      else if v.condition then discharge loc (d // { value = v.content; })
      else [ ])
    else [ d ];

  # A definition's value without its `mkOverride` (nested properties resolved).
  strip = loc: d: if (d.value._type or "") == "override" then discharge loc (d // { value = d.value.content; }) else [ d ];

  prioOf = d: if (d.value._type or "") == "override" then d.value.priority else lib.defaultOverridePriority;

  # Only the definitions of the highest priority (the lowest number) count.
  filterOverrides = loc: defs:
    let
      highestPrio = foldl' (p: d: let q = prioOf d; in if q < p then q else p) 9999 defs;
      kept = filter (d: prioOf d == highestPrio) defs;
    in {
      inherit highestPrio;
      values = if builtins.any (d: (d.value._type or "") == "override") kept then concatMap (strip loc) kept else kept;
    };

  # `mkOrder` (mkBefore, mkAfter): a stable sort by order priority.
  sortProperties = defs:
    if !(builtins.any (d: (d.value._type or "") == "order") defs) then defs
    else
      let
        strip = d:
          if (d.value._type or "") == "order" then d // { value = d.value.content; order = d.value.priority; }
          else d // { order = lib.defaultOrderPriority; };
      in
      builtins.sort (a: b: a.order < b.order) (map strip defs);

  # Whether any definition is wrapped in a property (mkIf, mkOverride, mkOrder, ...).
  hasProperties = builtins.any (d: let v = d.value; in isAttrs v && v ? _type);

  # The definitions of one option merged by its type: { defsFinal; highestPrio; value? }.
  mergeDefinitions = loc: type: defs:
    if hasProperties defs then mergeDischarged loc type (concatMap (discharge loc) defs)
    else
      let bad = filter (d: !type.check d.value) defs; in
      if defs == [ ] then { defsFinal = defs; highestPrio = lib.defaultOverridePriority; }
      else {
        defsFinal = defs;
        highestPrio = lib.defaultOverridePriority;
        value = if bad == [ ] then type.merge loc defs else notOfType loc type bad;
      };

  # The error for an option read without a definition or default.
  noValue = loc: throw "The option `${showOption loc}' was accessed but has no value defined. Try setting the option.";

  # The error for definitions `bad` whose values are not of the option's type.
  notOfType = loc: type: bad:
    throw "A definition for option `${showOption loc}' is not of type `${type.description}'. Definition values:${showDefs bad}";

  # `mergeDefinitions` of definitions with `mkMerge` and `mkIf` resolved (`discharge`).
  mergeDischarged = loc: type: discharged:
    let
      overrides =
        if discharged != [ ] && tail discharged == [ ] then
          (let d = head discharged; in
           if (d.value._type or "") == "override" then { values = strip loc d; highestPrio = d.value.priority; }
           else { values = discharged; highestPrio = lib.defaultOverridePriority; })
        else filterOverrides loc discharged;
      defsFinal = sortProperties overrides.values;
      bad = filter (d: !type.check d.value) defsFinal;
      inherit (overrides) highestPrio;
    in
    if defsFinal == [ ] then { inherit defsFinal highestPrio; }
    else {
      inherit defsFinal highestPrio;
      value = if bad == [ ] then type.merge loc defsFinal else notOfType loc type bad;
    };

  # The module system's own options.
  internalModule = {
    _file = "<osconf/lib/modules.nix>";
    key = "<osconf/lib/modules.nix>";
    options._module.args = lib.mkOption {
      type = lib.types.lazyAttrsOf lib.types.raw;
      default = { };
      description = "Arguments given to every module, besides specialArgs (e.g. `pkgs`).";
    };
  };

  # Its declarations, made once: they are the same in every evaluation (every submodule's too).
  internalDecls = mapAttrs (n: v: [ { file = internalModule._file; options = v; } ]) internalModule.options;

  evalModules = { modules, specialArgs ? { }, prefix ? [ ] }:
    evalModuleSet { inherit modules specialArgs prefix; configs = [ ]; };

  # `evalModules` with `configs`: modules that are only config, given as { file; value; }
  # (a submodule's definitions), which import nothing and so join the loaded modules
  # without being loaded, in the place they would have had after the module system's own.
  evalModuleSet = { modules, specialArgs, prefix, configs }:
    let
      values = { inherit lib config specialArgs; inherit (level) options; } // specialArgs;
      args = { inherit values; names = attrNames values; };
      loaded = collect args modules;
      # Definitions merge in reverse module order (later modules' list items first), as
      # in NixOS; within one module they keep their order.
      declaring = lib.reverseList loaded;
      mods = if configs == [ ] then declaring else declaring ++ lib.reverseList configs;
      level = mergeLevelWith internalDecls prefix declaring mods;
      freeformTypes = filter (t: t != null) (catAttrs "freeformType" mods);
      config = if freeformTypes == [ ] then level.config else withFreeform prefix freeformTypes level;
      checked =
        if freeformTypes != [ ] || level.unmatched == [ ] then config
        else undeclaredOption (head level.unmatched);
    in {
      config = checked;
      inherit (level) options;
      _module = config._module;
    };

  # `freeformType`: definitions of undeclared options are values of this type (the
  # modules' `freeformType`s combined), merged under the declared options' config.
  withFreeform = prefix: freeformTypes: level:
    let
      freeformType = foldl' (a: b: let t = lib.types.mergeTypes a b; in if t == null then a else t)
        (head freeformTypes) (tail freeformTypes);
      freeformDefs = concatMap (u:
        let rel = lib.drop (length prefix) u.loc; in
        map (d: d // { value = lib.setAttrByPath rel d.value; }) u.defs) level.unmatched;
      freeformConfig =
        if freeformDefs == [ ] then { }
        else (mergeDefinitions prefix freeformType freeformDefs).value or { };
    in
    lib.recursiveUpdate freeformConfig level.config;

  # The error for a definition of an option nothing declares.
  undeclaredOption = first:
    throw "The option `${showOption first.loc}' does not exist. Definition values:${showDefs first.defs}";
in
{
  inherit evalModules evalModuleSet mergeDefinitions;
  pushDownProperties = pushDown;
}
