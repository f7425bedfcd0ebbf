# `users.users.<name>` and `users.groups.<name>`: accounts and groups. Ids not given are
# allocated, keeping the ids of `users.previousIds` (the allocation of earlier
# generations) so a user keeps its uid across generations and a deleted user's id is
# never handed to someone else. The result, `system.build.users`, holds the id maps and
# the passwd/group/shadow texts activation writes.
{ config, lib, options, ... }:
let
  where = import ../misc/where.nix;
  whereUser = u: where options.users.users u.name;
  inherit (lib) mkOption mkDefault types;
  cfg = config.users;
  # The option types of the submodules, made once rather than once per user or group.
  nullOrInt = types.nullOr types.int;
  nullOrStr = types.nullOr types.str;
  listOfStr = types.listOf types.str;

  userOpts = { name, config, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; description = "The login name."; };
      description = mkOption { type = types.str; default = ""; example = "Alice Q. User"; description = "The GECOS field (full name)."; };
      uid = mkOption { type = nullOrInt; default = null; description = "The uid; null allocates one, stable across generations."; };
      isNormalUser = mkOption { type = types.bool; default = false; description = "A person's account: group `users', a home in /home, created, a uid from 1000."; };
      isSystemUser = mkOption { type = types.bool; default = false; description = "An account for a service: a uid below 1000."; };
      group = mkOption { type = types.str; default = ""; description = "The primary group."; };
      extraGroups = mkOption { type = listOfStr; default = [ ]; example = [ "wheel" ]; description = "Other groups the user is a member of."; };
      home = mkOption { type = types.path; default = "/var/empty"; description = "The home directory."; };
      createHome = mkOption { type = types.bool; default = false; description = "Whether activation creates the home directory (owned by the user, mode 0700)."; };
      shell = mkOption { type = types.path; default = "/run/current-system/sw/bin/sh"; description = "The login shell."; };
      hashedPassword = mkOption { type = nullOrStr; default = null; description = "The crypt(3) hash of the password; null locks password login."; };
    };
    config = lib.mkIf config.isNormalUser {
      group = mkDefault "users";
      home = mkDefault "/home/${config.name}";
      createHome = mkDefault true;
    };
  };

  groupOpts = { name, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; description = "The group's name."; };
      gid = mkOption { type = nullOrInt; default = null; description = "The gid; null allocates one, stable across generations."; };
      members = mkOption { type = listOfStr; default = [ ]; description = "Members besides the users listing the group in extraGroups."; };
    };
  };

  users = lib.attrValues cfg.users;
  groups = lib.attrValues cfg.groups;

  # Ids for `entries` ({ name; id; } with id null when not fixed): fixed ids, then ids of
  # `previous`, then fresh ones from `first` stepping by `step` (1 or -1), skipping every id
  # fixed or ever allocated. Fresh names are taken in sorted order: the result does not
  # depend on module order. Linear: fresh ids only grow (or only shrink).
  allocate = { entries, previous, first, step }:
    let
      reserved = builtins.listToAttrs (map (id: { name = toString id; value = true; })
        (lib.attrValues previous ++ map (e: e.id) (builtins.filter (e: e.id != null) entries)));
      pending = builtins.filter (e: e.id == null) entries;
      kept = builtins.filter (e: previous ? ${e.name}) pending;
      fresh = builtins.sort builtins.lessThan (map (e: e.name) (builtins.filter (e: !(previous ? ${e.name})) pending));
      nextFree = id: if reserved ? ${toString id} then nextFree (id + step) else id;
      # The k-th fresh id follows the (k-1)-th: one walk, as a genericClosure chain.
      chain = if fresh == [ ] then [ ] else builtins.genericClosure {
        startSet = [ { key = 0; id = nextFree first; } ];
        operator = item:
          if item.key + 1 >= builtins.length fresh then [ ]
          else [ { key = item.key + 1; id = nextFree (item.id + step); } ];
      };
      assigned = map (item: { name = builtins.elemAt fresh item.key; value = item.id; }) chain;
    in
    builtins.listToAttrs (
      map (e: { inherit (e) name; value = e.id; }) (builtins.filter (e: e.id != null) entries)
      ++ map (e: { inherit (e) name; value = previous.${e.name}; }) kept
      ++ assigned);

  uids =
    allocate { entries = map (u: { inherit (u) name; id = u.uid; }) (builtins.filter (u: u.isNormalUser) users); previous = cfg.previousIds.uids; first = 1000; step = 1; }
    // allocate { entries = map (u: { inherit (u) name; id = u.uid; }) (builtins.filter (u: !u.isNormalUser) users); previous = cfg.previousIds.uids; first = 999; step = -1; };
  gids = allocate { entries = map (g: { inherit (g) name; id = g.gid; }) groups; previous = cfg.previousIds.gids; first = 999; step = -1; };

  # Group members: declared members and users naming the group in extraGroups.
  membersOf = builtins.zipAttrsWith (n: lists: builtins.concatLists lists)
    (map (g: { ${g.name} = g.members; }) groups
     ++ map (u: builtins.listToAttrs (map (g: { name = g; value = [ u.name ]; }) u.extraGroups)) users);

  duplicates = ids: lib.attrNames (lib.filterAttrs (id: names: builtins.length names > 1)
    (builtins.groupBy (n: toString ids.${n}) (lib.attrNames ids)));
  # Distinct strings, first occurrences in order (osconf's lib has this; kept local so
  # these modules also run under nixpkgs lib's evalModules, for comparison).
  uniqueStrings = list:
    map (x: x.key) (builtins.genericClosure { startSet = map (key: { inherit key; }) list; operator = _: [ ]; });
  nameOk = n: builtins.match "[a-z_][a-z0-9_-]*[$]?" n != null && builtins.stringLength n <= 32;
in
{
  options.users = {
    users = mkOption {
      type = types.attrsOf (types.submodule userOpts);
      default = { };
      example = { alice = { isNormalUser = true; extraGroups = [ "wheel" ]; }; };
      description = "User accounts, by login name.";
    };
    groups = mkOption {
      type = types.attrsOf (types.submodule groupOpts);
      default = { };
      description = "Groups, by name.";
    };
    previousIds = mkOption {
      type = types.submodule {
        options.uids = mkOption { type = types.attrsOf types.int; default = { }; description = "uid by user name."; };
        options.gids = mkOption { type = types.attrsOf types.int; default = { }; description = "gid by group name."; };
      };
      default = { };
      description = "The ids allocated by earlier generations (the target's id map, read by osconf): kept for users and groups still declared, never reused for others.";
    };
  };

  config = {
    users.users.root = { uid = 0; group = "root"; home = "/root"; createHome = mkDefault true; hashedPassword = mkDefault "!"; };
    users.users.nobody = { uid = 65534; group = "nogroup"; isSystemUser = true; };
    users.groups = { root.gid = 0; wheel.gid = 1; users.gid = 100; nogroup.gid = 65534; };

    assertions =
      lib.concatMap (u: [
        { assertion = u.group != ""; message = "users.users.${u.name}.group is unset: set it, or set isNormalUser (group `users').${whereUser u}"; }
        { assertion = u.group == "" || cfg.groups ? ${u.group}; message = "users.users.${u.name}.group `${u.group}' is not declared in users.groups.${whereUser u}"; }
        { assertion = !(u.isNormalUser && u.isSystemUser); message = "users.users.${u.name}: isNormalUser and isSystemUser are both set.${whereUser u}"; }
        { assertion = u.uid != null || u.isNormalUser || u.isSystemUser; message = "users.users.${u.name}: set uid, isNormalUser or isSystemUser.${whereUser u}"; }
        { assertion = nameOk u.name; message = "users.users.${u.name}: `${u.name}' is not a valid user name.${whereUser u}"; }
      ] ++ map (g: { assertion = cfg.groups ? ${g}; message = "users.users.${u.name}.extraGroups: group `${g}' is not declared in users.groups.${whereUser u}"; }) u.extraGroups) users
      ++ map (g: { assertion = nameOk g.name; message = "users.groups.${g.name}: `${g.name}' is not a valid group name.${where options.users.groups g.name}"; }) groups
      ++ map (id: { assertion = false; message = "uid ${id} is used by more than one user: ${toString (builtins.filter (n: toString uids.${n} == id) (lib.attrNames uids))}."; }) (duplicates uids)
      ++ map (id: { assertion = false; message = "gid ${id} is used by more than one group: ${toString (builtins.filter (n: toString gids.${n} == id) (lib.attrNames gids))}."; }) (duplicates gids);

    system.build.users = {
      inherit uids gids;
      # The id map activation keeps for the next generation: every id ever allocated.
      idMap = { uids = cfg.previousIds.uids // uids; gids = cfg.previousIds.gids // gids; };
      passwd = lib.concatMapStrings (u:
        "${u.name}:x:${toString uids.${u.name}}:${toString (gids.${u.group} or 65534)}:${u.description}:${u.home}:${u.shell}\n") users;
      group = lib.concatMapStrings (g:
        "${g.name}:x:${toString gids.${g.name}}:${builtins.concatStringsSep "," (uniqueStrings (membersOf.${g.name} or [ ]))}\n") groups;
      shadow = lib.concatMapStrings (u:
        "${u.name}:${if u.hashedPassword == null then "!" else u.hashedPassword}:1::::::\n") users;
      homes = map (u: { inherit (u) name home; uid = uids.${u.name}; gid = gids.${u.group} or 65534; })
        (builtins.filter (u: u.createHome) users);
    };
  };
}
