# $system/activate-services ROOT: switches the services of the init running the system
# at ROOT to this system's: stops the services it no longer defines, restarts those whose
# definition (the store path $system/services/NAME) changed, starts new ones and leaves
# the others alone. Inside the running system (ROOT /, or --local) it does so itself;
# for a container at ROOT (ROOT/nix/var/osconf/container.pid) it asks the container's
# init through its control pipe; with no init running it does nothing. A service that
# fails to start (ends with a failure within OSCONF_START_GRACE seconds, default 1)
# makes it exit with status 1, naming the service.
# `--stop` stops every service (init's shutdown).
system=@out@
state=/run/osconf/services
grace=${OSCONF_START_GRACE:-1}

# Whether process $1 runs (a zombie does not).
alive() {
  [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

running() {
  alive "$(cat "$state/$1/supervisor" 2>/dev/null)"
}

stop_service() {
  sup=$(cat "$state/$1/supervisor" 2>/dev/null)
  if alive "$sup"; then
    kill -TERM "$sup" 2>/dev/null
    i=0
    while alive "$sup" && [ $i -lt 100 ]; do
      sleep 0.1
      i=$((i + 1))
    done
    if alive "$sup"; then
      echo "osconf: service $1 did not stop in 10 seconds; killing it" >&2
      kill -KILL "$sup" $(cat "$state/$1/pid" 2>/dev/null) 2>/dev/null
    fi
  fi
  rm -rf "${state:?}/$1"
}

start_service() {
  def=$(readlink -f "$system/services/$1")
  rm -rf "${state:?}/$1"
  mkdir -p "$state/$1" /var/log/osconf
  echo "$def" > "$state/$1/definition"
  # A subshell, so the supervisor's parent is init once the subshell ends.
  (
    "$tools/bin/sh" "$supervise" "$1" "$def" < /dev/null >> "/var/log/osconf/$1.log" 2>&1 &
    echo $! > "$state/$1/supervisor"
  )
}

# The running services' names.
current() {
  for d in "$state"/*; do
    [ -d "$d" ] && echo "${d##*/}"
  done
}

wanted() {
  grep -qxF -- "$1" "$system/services/order"
}

switch_local() {
  mkdir -p "$state" /var/log/osconf
  ln -sfn "$system" /run/.current-system.tmp && mv -Tf /run/.current-system.tmp /run/current-system
  if [ -f "$system/etc/hostname" ] && [ "$(hostname)" != "$(cat "$system/etc/hostname")" ]; then
    hostname -F "$system/etc/hostname" || echo "osconf: cannot set the host name" >&2
  fi
  for name in $(current); do
    if ! wanted "$name"; then
      echo "osconf: stopping service $name"
      stop_service "$name"
    elif [ "$(cat "$state/$name/definition" 2>/dev/null)" != "$(readlink -f "$system/services/$name")" ]; then
      echo "osconf: stopping service $name (its definition changed)"
      stop_service "$name"
    elif ! running "$name"; then
      rm -rf "${state:?}/$name"
    fi
  done
  started=
  for name in $(cat "$system/services/order"); do
    running "$name" && continue
    echo "osconf: starting service $name"
    start_service "$name"
    started="$started $name"
  done
  [ -n "$started" ] || return 0
  sleep "$grace"
  failed=
  for name in $started; do
    status=$(cat "$state/$name/last-status" 2>/dev/null)
    if [ -n "$status" ] && [ "$status" != 0 ]; then
      failed="$failed $name"
    fi
  done
  [ -n "$failed" ] || return 0
  for name in $failed; do
    echo "osconf: service $name failed to start (exit status $(cat "$state/$name/last-status")); its log:" >&2
    tail -n 5 "/var/log/osconf/$name.log" | sed 's/^/    /' >&2
  done
  echo "osconf: failed services:$failed" >&2
  return 1
}

stop_all() {
  names=$(current)
  # Reverse start order: the services others come after stop last.
  order=$(cat /run/current-system/services/order 2>/dev/null)
  for name in $(echo "$order" | sed -n '1!G;h;$p') $names; do
    [ -d "$state/$name" ] || continue
    echo "osconf: stopping service $name"
    stop_service "$name"
  done
}

# Asks the init of the container at $1 to switch; prints its output, returns its status.
switch_container() {
  ctl=$1/nix/var/osconf
  id=$$-$(date +%s)
  # The init reads requests once it has booted (a request made while it boots waits).
  if ! timeout 60 sh -c 'echo "$2" > "$1"' sh "$ctl/control" "switch $system $id"; then
    echo "osconf: the container's init does not answer on $ctl/control" >&2
    return 1
  fi
  i=0
  while [ ! -f "$ctl/replies/$id.status" ]; do
    if [ $i -ge 3000 ]; then
      echo "osconf: the container's init did not finish switching services in 300 seconds" >&2
      return 1
    fi
    sleep 0.1
    i=$((i + 1))
  done
  cat "$ctl/replies/$id.out"
  status=$(cat "$ctl/replies/$id.status")
  rm -f "$ctl/replies/$id.out" "$ctl/replies/$id.status"
  return "$status"
}

case "${1:-}" in
  --stop) stop_all; exit 0 ;;
  --local) switch_local; exit $? ;;
esac
root=${1:-/}
if [ "$root" = / ] && [ -e /run/osconf/supervising ]; then
  switch_local
  exit $?
fi
root=${root%/}
pid=$(cat "$root/nix/var/osconf/container.pid" 2>/dev/null)
if [ -p "$root/nix/var/osconf/control" ] && alive "$pid"; then
  switch_container "$root"
  exit $?
fi
# No init runs the system at ROOT: its services start when it boots.
exit 0
