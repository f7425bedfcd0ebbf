"""The cases of the complexity audit: one per builtin or operator and input dimension.

Each case is (name, dimension, n, setup, op[, flags]):
  - `setup` is a Nix expression for the input, bound to `input` (evaluated
    and deep-forced once, outside the timed loop); it may use `n`, the input
    size, and the prelude's `ints`, `strs`, `set`, `str` (below).
  - `op` is the measured expression: it may use `input` and `i` (the
    repetition index); it is forced to weak head normal form once per
    repetition. The baseline is the same evaluation with `op` replaced by `null`.
  - `@GEN:kind@` in setup or op is replaced by generated source text of size n
    (see GENERATORS), `@DIR@` by a directory of generated input files.
  - flags: "once" runs op one time per evaluation (for memoised operations
    such as `import`); "files:kind" generates input files (see harness).
Every case is run at n and 8n.
"""

# Definitions visible to every setup (lazy: only those used cost anything).
PRELUDE = """
  ints = builtins.genList (x: x) n;
  strs = builtins.genList (x: "s${toString x}") n;
  set = builtins.listToAttrs (builtins.genList (x: { name = "a${toString x}"; value = x; }) n);
  str = builtins.concatStringsSep "" (builtins.genList (x: "abcdefghij") (n / 10));
  small = builtins.listToAttrs (builtins.genList (x: { name = "a${toString x}"; value = x; }) 8);
  drvStrs = builtins.genList (x: "${derivation { name = "d${toString x}"; system = "x"; builder = "/bin/sh"; }}") n;
"""


def gen_formals(n):
    return "{ " + ", ".join(f"f{k}" for k in range(n)) + " }: 0"


def gen_formals_with_defaults(n):
    return "{ " + ", ".join(f"f{k} ? {k}" for k in range(n)) + " }: 0"


def gen_bindings(n):
    return " ".join(f"a{k} = {k};" for k in range(n))


def gen_rec_bindings(n):
    return "a0 = 0; " + " ".join(f"a{k} = a{k - 1};" for k in range(1, n))


def gen_inherits(n):
    return "inherit (input) " + " ".join(f"a{k}" for k in range(n)) + ";"


def gen_nested_set(n):
    return "{ a = " * n + "0" + " ; }" * n


def gen_select_path(n):
    return "input" + ".a" * n


def gen_withs(n):
    return " ".join(f"with {{ w{k} = {k}; }};" for k in range(n)) + " w0"


def gen_lets(n):
    return " ".join(f"let l{k} = {k}; in" for k in range(n)) + " l0"


def gen_toml(n):
    return "\n".join(f"a{k} = {k}" for k in range(n)) + "\n"


def gen_version(n):
    return ".".join(str(k % 10) for k in range(max(1, n // 2)))


GENERATORS = {
    "formals": gen_formals,
    "formalsdef": gen_formals_with_defaults,
    "bindings": gen_bindings,
    "rec": gen_rec_bindings,
    "inherits": gen_inherits,
    "nested": gen_nested_set,
    "select": gen_select_path,
    "withs": gen_withs,
    "lets": gen_lets,
    "toml": gen_toml,
    "version": gen_version,
}

LIST_N = 10000
SET_N = 5000
STR_N = 20000
DEPTH_N = 250

CASES = [
    # ---- lists
    ("length", "list length", LIST_N, "ints", "builtins.length input"),
    ("head", "list length", LIST_N, "ints", "builtins.head input"),
    ("tail", "list length", LIST_N, "ints", "builtins.tail input"),
    ("elemAt", "list length", LIST_N, "ints", "builtins.elemAt input (n / 2)"),
    ("map", "list length", LIST_N, "ints", "builtins.map (x: x) input"),
    ("filter", "list length", LIST_N, "ints", "builtins.filter (x: true) input"),
    ("elem", "list length", LIST_N, "ints", "builtins.elem (-1) input"),
    ("concatLists", "number of lists", LIST_N, "builtins.map (x: [ x ]) ints", "builtins.concatLists input"),
    ("concatLists", "inner list length", LIST_N, "[ ints ints ]", "builtins.concatLists input"),
    ("concatMap", "list length", LIST_N, "ints", "builtins.concatMap (x: [ x ]) input"),
    ("foldl'", "list length", LIST_N, "ints", "builtins.foldl' (a: b: b) 0 input"),
    ("any", "list length", LIST_N, "ints", "builtins.any (x: false) input"),
    ("all", "list length", LIST_N, "ints", "builtins.all (x: true) input"),
    ("genList", "length", LIST_N, "n", "builtins.genList (x: x) input"),
    ("sort", "list length (reversed)", LIST_N, "builtins.genList (x: n - x) n", "builtins.sort builtins.lessThan input"),
    ("sort", "list length (scrambled)", LIST_N,
     "builtins.genList (x: x * 7919 - x * 7919 / 10007 * 10007) n", "builtins.sort builtins.lessThan input"),
    ("partition", "list length", LIST_N, "ints", "builtins.partition (x: x / 2 * 2 == x) input"),
    ("groupBy", "list length (n groups)", LIST_N, "strs", "builtins.groupBy (x: x) input"),
    ("groupBy", "list length (1 group)", LIST_N, "strs", "builtins.groupBy (x: \"k\") input"),
    ("listToAttrs", "list length", SET_N,
     "builtins.genList (x: { name = \"a${toString x}\"; value = x; }) n", "builtins.listToAttrs input"),
    ("catAttrs", "list length", LIST_N, "builtins.map (x: { a = x; }) ints", "builtins.catAttrs \"a\" input"),
    ("zipAttrsWith", "number of sets", LIST_N, "builtins.map (x: { a = x; b = x; }) ints",
     "builtins.zipAttrsWith (k: vs: vs) input"),
    ("zipAttrsWith", "set size", SET_N, "[ set set ]", "builtins.zipAttrsWith (k: vs: vs) input"),
    ("concatStringsSep", "list length", LIST_N, "strs", "builtins.concatStringsSep \",\" input"),
    ("genericClosure", "closure size", LIST_N, "n",
     "builtins.genericClosure { startSet = [ { key = 0; } ]; "
     "operator = x: if x.key < input then [ { key = x.key + 1; } ] else [ ]; }"),
    ("++", "left length", LIST_N, "ints", "input ++ [ 1 ]"),
    ("++", "right length", LIST_N, "ints", "[ 1 ] ++ input"),
    ("== (lists)", "list length", LIST_N, "{ a = ints; b = builtins.genList (x: x) n; }", "input.a == input.b"),
    ("< (lists)", "list length", LIST_N, "{ a = ints; b = builtins.genList (x: x) n; }", "input.a < input.b"),
    ("toJSON", "list length", LIST_N, "ints", "builtins.toJSON input"),
    ("deepSeq", "list length", LIST_N, "ints", "builtins.deepSeq input null"),
    ("seq", "list length", LIST_N, "ints", "builtins.seq input null"),
    ("trace", "list length", 2000, "ints", "builtins.trace input null"),
    # ---- attribute sets
    ("attrNames", "set size", SET_N, "set", "builtins.attrNames input"),
    ("attrValues", "set size", SET_N, "set", "builtins.attrValues input"),
    ("getAttr", "set size", SET_N, "set", "builtins.getAttr \"a7\" input"),
    ("hasAttr", "set size", SET_N, "set", "builtins.hasAttr \"a7\" input"),
    (". (select)", "set size", SET_N, "set", "input.a7"),
    ("? (has attr)", "set size", SET_N, "set", "input ? a7"),
    ("or (missing)", "set size", SET_N, "set", "input.zz or 0"),
    ("removeAttrs", "set size", SET_N, "set", "builtins.removeAttrs input [ \"a1\" ]"),
    ("removeAttrs", "number of names", SET_N, "{ s = small; names = strs; }",
     "builtins.removeAttrs input.s input.names"),
    ("intersectAttrs", "second set size", SET_N, "set", "builtins.intersectAttrs small input"),
    ("intersectAttrs", "first set size", SET_N, "set", "builtins.intersectAttrs input small"),
    ("intersectAttrs", "both sizes", SET_N, "set", "builtins.intersectAttrs input input"),
    ("mapAttrs", "set size", SET_N, "set", "builtins.mapAttrs (k: v: v) input"),
    ("// (update)", "left size", SET_N, "set", "input // small"),
    ("// (update)", "right size", SET_N, "set", "small // input"),
    ("== (sets)", "set size", SET_N, "{ a = set; b = builtins.mapAttrs (k: v: v) set; }", "input.a == input.b"),
    ("isAttrs", "set size", SET_N, "set", "builtins.isAttrs input"),
    ("unsafeGetAttrPos", "set size", SET_N, "set", "builtins.unsafeGetAttrPos \"a7\" input"),
    ("toJSON", "set size", SET_N, "set", "builtins.toJSON input"),
    ("toXML", "set size", 1000, "set", "builtins.toXML input"),
    # (500 and 4,000 formals or names: CppNix 2.8's parser runs out of stack at
    # 40,000 formals, and nixkit's prescan takes at most 8,000 terms per level,
    # which 3,000 formals with defaults exceed)
    ("functionArgs", "formals", 500, "(@GEN:formals@)", "builtins.functionArgs input"),
    ("call with formals", "formals with defaults", 250, "(@GEN:formalsdef@)", "input { }"),
    ("with (lookup)", "set size", SET_N, "set", "with input; a7"),
    ("attrset literal", "attributes", SET_N, "null", "{ @GEN:bindings@ }"),
    ("rec set", "attributes", SET_N, "null", "(rec { @GEN:rec@ }).a0"),
    ("let", "bindings", SET_N, "null", "let @GEN:bindings@ in a0"),
    ("inherit (from)", "attributes", 500, "set", "{ @GEN:inherits@ }"),
    # ---- strings
    ("stringLength", "string length", STR_N, "str", "builtins.stringLength input"),
    ("substring", "string length (short result)", STR_N, "str", "builtins.substring 10 10 input"),
    ("substring", "result length", STR_N, "str", "builtins.substring 1 (n / 2) input"),
    ("+ (strings)", "string length", STR_N, "str", "input + input"),
    ("interpolation", "string length", STR_N, "str", "\"x${input}\""),
    ("toString", "string length", STR_N, "str", "toString input"),
    ("toString", "list length", LIST_N, "ints", "toString input"),
    ("hashString", "string length", STR_N, "str", "builtins.hashString \"sha256\" input"),
    ("match", "string length", STR_N, "str", "builtins.match \"a.*\" input"),
    ("split", "string length", STR_N, "str", "builtins.split \"a\" input"),
    ("replaceStrings", "string length", STR_N, "str", "builtins.replaceStrings [ \"a\" ] [ \"b\" ] input"),
    ("replaceStrings", "number of patterns", 2000,
     "{ from = builtins.genList (x: \"p${toString x}\") n; to = builtins.genList (x: \"q\") n; }",
     "builtins.replaceStrings input.from input.to \"hello world\""),
    ("concatStringsSep", "string length", STR_N, "[ str str ]", "builtins.concatStringsSep \",\" input"),
    ("baseNameOf", "string length", STR_N, "\"/\" + str + \"/x\"", "baseNameOf input"),
    ("dirOf", "string length", STR_N, "\"/\" + str + \"/x\"", "dirOf input"),
    ("parseDrvName", "string length", STR_N, "str + \"-1.0\"", "builtins.parseDrvName input"),
    ("compareVersions", "version length", STR_N, "\"@GEN:version@\"",
     "builtins.compareVersions input input"),
    ("splitVersion", "version length", STR_N, "\"@GEN:version@\"", "builtins.splitVersion input"),
    ("fromJSON", "string length", LIST_N, "builtins.toJSON ints", "builtins.fromJSON input"),
    ("fromTOML", "string length", 2000, "''@GEN:toml@''", "builtins.fromTOML input"),
    ("toJSON", "string length", STR_N, "str", "builtins.toJSON input"),
    ("toFile", "string length", STR_N, "str", "builtins.toFile \"x\" input"),
    ("toPath", "string length", STR_N, "\"/\" + str", "builtins.toPath input"),
    ("== (strings)", "string length", STR_N, "{ a = str; b = str + \"\"; }", "input.a == input.b"),
    ("< (strings)", "string length", STR_N, "{ a = str; b = str + \"\"; }", "input.a < input.b"),
    ("unsafeDiscardStringContext", "string length", STR_N, "str",
     "builtins.unsafeDiscardStringContext input"),
    ("hasContext", "context entries", 500, "builtins.concatStringsSep \"\" drvStrs",
     "builtins.hasContext input"),
    ("getContext", "context entries", 500, "builtins.concatStringsSep \"\" drvStrs",
     "builtins.getContext input"),
    ("unsafeDiscardStringContext", "context entries", 500, "builtins.concatStringsSep \"\" drvStrs",
     "builtins.unsafeDiscardStringContext input"),
    ("unsafeDiscardOutputDependency", "context entries", 500, "builtins.concatStringsSep \"\" drvStrs",
     "builtins.unsafeDiscardOutputDependency input"),
    ("appendContext", "context entries", 500,
     "builtins.getContext (builtins.concatStringsSep \"\" drvStrs)", "builtins.appendContext \"x\" input"),
    ("+ (strings with context)", "context entries", 500,
     "builtins.concatStringsSep \"\" drvStrs", "input + input"),
    ("derivation", "environment attributes", 1000, "builtins.mapAttrs (k: v: toString v) set",
     "(derivation ({ name = \"x\"; system = \"x\"; builder = \"/bin/sh\"; v = toString i; } // input)).drvPath"),
    ("derivation", "attribute string length", STR_N, "str",
     "(derivation { name = \"x\"; system = \"x\"; builder = \"/bin/sh\"; v = toString i; s = input; }).drvPath"),
    ("placeholder", "none", LIST_N, "ints", "builtins.placeholder \"out\""),
    # ---- types, arithmetic, control: constant cost whatever the size of the value
    ("typeOf", "list length", LIST_N, "ints", "builtins.typeOf input"),
    ("isList", "list length", LIST_N, "ints", "builtins.isList input"),
    ("isNull", "list length", LIST_N, "ints", "builtins.isNull input"),
    ("isFunction", "list length", LIST_N, "ints", "builtins.isFunction input"),
    ("isInt", "list length", LIST_N, "ints", "builtins.isInt input"),
    ("isFloat", "list length", LIST_N, "ints", "builtins.isFloat input"),
    ("isString", "string length", STR_N, "str", "builtins.isString input"),
    ("isBool", "list length", LIST_N, "ints", "builtins.isBool input"),
    ("isPath", "list length", LIST_N, "ints", "builtins.isPath input"),
    ("tryEval", "list length", LIST_N, "ints", "builtins.tryEval input"),
    ("throw (caught)", "message length", STR_N, "str", "builtins.tryEval (throw input)"),
    ("addErrorContext", "message length", STR_N, "str", "builtins.addErrorContext input 1"),
    ("add / +", "magnitude", LIST_N, "n", "input + i"),
    ("sub / -", "magnitude", LIST_N, "n", "input - i"),
    ("mul / *", "magnitude", LIST_N, "n", "input * i"),
    ("div / /", "magnitude", LIST_N, "n", "input / (i + 1)"),
    ("bitAnd", "magnitude", LIST_N, "n", "builtins.bitAnd input i"),
    ("bitOr", "magnitude", LIST_N, "n", "builtins.bitOr input i"),
    ("bitXor", "magnitude", LIST_N, "n", "builtins.bitXor input i"),
    ("lessThan / <", "magnitude", LIST_N, "n", "input < i"),
    ("ceil", "magnitude", LIST_N, "n + 0.5", "builtins.ceil input"),
    ("floor", "magnitude", LIST_N, "n + 0.5", "builtins.floor input"),
    ("! && || ->", "magnitude", LIST_N, "n > 0", "!input && (input || i > 0) && (input -> true)"),
    # ---- depth
    ("deepSeq", "nesting depth", DEPTH_N, "builtins.foldl' (acc: x: [ acc ]) [ ] ints",
     "builtins.deepSeq input null"),
    ("toJSON", "nesting depth", DEPTH_N, "builtins.foldl' (acc: x: [ acc ]) [ ] ints", "builtins.toJSON input"),
    ("== (nested)", "nesting depth", DEPTH_N,
     "{ a = builtins.foldl' (acc: x: [ acc ]) [ ] ints; b = builtins.foldl' (acc: x: [ acc ]) [ ] ints; }",
     "input.a == input.b"),
    ("recursion", "call depth", DEPTH_N, "n",
     "let f = x: if x == 0 then 0 else f (x - 1); in f input"),
    # (50 and 400 levels: nixkit's parser rejects 800 nested `with`s, CppNix 2.8 does not)
    (". (select path)", "path length", 50, "@GEN:nested@", "@GEN:select@"),
    ("with (outer lookup)", "with nesting", 50, "null", "@GEN:withs@"),
    ("let (outer lookup)", "let nesting", 50, "null", "@GEN:lets@"),
    # ---- files
    ("readFile", "file size", 100000, "@DIR@/file", "builtins.readFile input", "files:file"),
    ("hashFile", "file size", 100000, "@DIR@/file", "builtins.hashFile \"sha256\" input", "files:file"),
    ("readDir", "directory entries", 500, "@DIR@/dir", "builtins.readDir input", "files:dir"),
    ("pathExists", "directory entries", 500, "@DIR@/dir", "builtins.pathExists (input + \"/f7\")", "files:dir"),
    ("path", "directory entries", 200, "@DIR@/dir", "builtins.path { path = input; name = \"d\"; }",
     "files:dir"),
    ("filterSource", "directory entries", 200, "@DIR@/dir", "builtins.filterSource (p: t: true) input",
     "files:dir"),
    ("scopedImport", "file size (attributes)", SET_N, "@DIR@/attrs.nix",
     "builtins.scopedImport { x = i; } input", "files:attrs"),
    ("import", "file size (attributes)", 20000, "@DIR@/attrs.nix", "import input", "files:attrs", "once"),
    ("findFile", "search path entries", 2000,
     "builtins.genList (x: { prefix = \"p${toString x}\"; path = \"/nonexistent\"; }) n"
     " ++ [ { prefix = \"\"; path = @DIR@; } ]",
     "builtins.findFile input \"attrs.nix\"", "files:attrs"),
]

# Builtins not measured, and why.
NOT_MEASURED = {
    "abort": "ends the evaluation (its message is formatted like throw's)",
    "fetchGit fetchMercurial fetchTarball fetchTree fetchurl": "network",
    "currentSystem currentTime langVersion nixPath nixVersion storeDir null true false builtins":
        "constants",
    "getEnv": "reads one variable",
    "derivationStrict": "measured through derivation",
    "storePath": "needs a valid store path; the cost is the path's length like toPath",
}
