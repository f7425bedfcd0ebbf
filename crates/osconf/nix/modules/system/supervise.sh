# osconf-supervise NAME DEFINITION: runs one service (DEFINITION/run) and restarts it as
# DEFINITION/restart says (always, on-failure, no), DEFINITION/restart-delay seconds
# later; a run script that exits with 78 (EX_CONFIG: it refused to start the service,
# e.g. as a user the container cannot switch to) is not restarted. Its state is
# /run/osconf/services/NAME: `pid` (the running process), `exits` (how many times it
# ended), `last-status`. SIGTERM stops the service and the supervisor.
# Standard output and error (the service's too) go to the service's log.
name=$1
def=$2
state=/run/osconf/services/$name
restart=$(cat "$def/restart")
delay=$(cat "$def/restart-delay")
exits=0
stop=
child=
trap 'stop=1; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null' TERM INT HUP

# Waits for $child, also when a signal's trap interrupts the wait; sets $status.
wait_child() {
  while :; do
    wait "$child"
    status=$?
    kill -0 "$child" 2>/dev/null || break
  done
  child=
}

while [ -z "$stop" ]; do
  echo "osconf: $(date '+%F %T') starting $name"
  # Without the init's lock descriptors (3, 4: see init.sh): a service cannot release them.
  "$def/run" < /dev/null 3>&- 4>&- &
  child=$!
  echo "$child" > "$state/pid"
  wait_child
  rm -f "$state/pid"
  exits=$((exits + 1))
  echo "$exits" > "$state/exits"
  echo "$status" > "$state/last-status"
  echo "osconf: $(date '+%F %T') $name exited with status $status"
  [ -z "$stop" ] || break
  if [ "$status" = 78 ]; then
    echo "osconf: $(date '+%F %T') $name refused to start (status 78); not restarting it"
    break
  fi
  case "$restart" in
    always) ;;
    on-failure) [ "$status" != 0 ] || break ;;
    *) break ;;
  esac
  sleep "$delay" &
  child=$!
  wait_child
done
echo "osconf: $(date '+%F %T') $name stopped"
