# The system's init, pid 1 of a container (`osconf run`): mounts /proc, /run and /tmp,
# activates the system into /, starts its services (they keep running under their
# supervisors, whose parent this process becomes), answers requests written to the
# control pipe /nix/var/osconf/control, one a line: "activate SYSTEM ID" (activation and
# services) or "switch SYSTEM ID" (services only), replying in /nix/var/osconf/replies/
# ID.out (the output) and ID.status (the exit status, written last),
# reaps orphans, and on SIGTERM or SIGINT stops the services and every other process.
# `osconf run` hands it two locked descriptors (flock): 3, the root's run lock
# (nix/var/osconf/run.lock), held as long as this init lives, so no second container
# boots the root; and 4, the root's activation lock (nix/var/nix/osconf.lock), held
# while the boot activates the system, so no `rebuild switch` from the host interleaves
# with it. Neither is passed to what the init starts, which would keep the lock.
system=@out@
ctl=/nix/var/osconf

echo "init: booting $system"
[ -e /proc/self ] || mount -t proc -o nosuid,nodev,noexec proc /proc
grep -q '^[^ ]* /run ' /proc/mounts || mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
grep -q '^[^ ]* /tmp ' /proc/mounts || mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mkdir -p /run/osconf/services /var/log/osconf "$ctl/replies"
chmod 700 "$ctl"
echo $$ > /run/osconf/init.pid
# From here on, activating a system inside this one switches services live.
: > /run/osconf/supervising

controller=
# Whether a process other than this one runs (zombies have ended; builtins only, so the
# check itself starts no process).
others_run() {
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" != 1 ] || continue
    read -r stat < "$p/stat" 2>/dev/null || continue
    case "${stat##*) }" in Z*) ;; *) return 0 ;; esac
  done
  return 1
}
shutdown() {
  trap '' TERM INT
  echo "init: stopping services"
  [ -z "$controller" ] || kill -TERM "$controller" 2>/dev/null
  /run/current-system/activate-services --stop || "$system/activate-services" --stop
  # Whatever else runs gets SIGTERM, and SIGKILL once it had 5 seconds.
  kill -TERM -1 2>/dev/null
  i=0
  while others_run && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  kill -KILL -1 2>/dev/null
  rm -f "$ctl/control"
  echo "init: stopped"
  exit 0
}
trap shutdown TERM INT

[ ! -f "$system/etc/hostname" ] || hostname -F "$system/etc/hostname" || echo "init: cannot set the host name"
# The control pipe exists before activation: a switch asked for while the system boots
# waits in it (its writer blocks until the pipe is read) and is served once the boot is
# done, instead of finding no pipe and leaving the booting generation's services running.
rm -f "$ctl/control"
mkfifo -m 600 "$ctl/control"
"$system/activate" / 4>&- || echo "init: activating $system failed"
"$system/activate-services" --local 4>&- || echo "init: some services did not start"
# The boot's activation is done: a waiting `rebuild switch` may go on.
exec 4>&-

# The control pipe: one request a line; the reply is the switch's output and status.
serve_control() {
  trap - TERM INT
  while :; do
    read -r cmd sys id < "$ctl/control" || continue
    case "$id" in ''|*[!0-9a-z-]*) echo "init: bad request id '$id'"; continue ;; esac
    case "$sys" in /nix/store/*) ;; *) echo "init: not a system: '$sys'"; continue ;; esac
    case "$cmd" in
      activate)
        echo "init: activating $sys"
        "$sys/activate" / > "$ctl/replies/$id.out" 2>&1 &&
          "$sys/activate-services" --local >> "$ctl/replies/$id.out" 2>&1
        ;;
      switch)
        echo "init: switching services to $sys"
        "$sys/activate-services" --local > "$ctl/replies/$id.out" 2>&1
        ;;
      *) echo "init: unknown request '$cmd'"; continue ;;
    esac
    echo $? > "$ctl/replies/$id.status.tmp"
    mv -f "$ctl/replies/$id.status.tmp" "$ctl/replies/$id.status"
  done
}
serve_control &
controller=$!
echo "init: up"

# Reap orphans (every wait reaps any child) until SIGTERM.
while :; do
  sleep 1 &
  wait $!
done
