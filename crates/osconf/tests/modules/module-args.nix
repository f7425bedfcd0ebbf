# `_module.args` gives modules extra arguments by name.
[
  ({ lib, ... }: { options.v = lib.mkOption { type = lib.types.int; }; options.w = lib.mkOption { type = lib.types.str; }; })
  { _module.args.answer = 42; _module.args.word = "hi"; }
  ({ answer, word, ... }: { v = answer; w = word; })
]
