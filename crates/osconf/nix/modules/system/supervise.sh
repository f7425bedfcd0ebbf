# osconf-supervise NAME DEFINITION: runs one service (DEFINITION/run) and restarts it as
# DEFINITION/restart says (always, on-failure, no), DEFINITION/restart-delay seconds
# later. Its state is /run/osconf/services/NAME: `pid` (the running process), `exits`
# (how many times it ended), `last-status`. SIGTERM stops the service and the supervisor.
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
  "$def/run" < /dev/null &
  child=$!
  echo "$child" > "$state/pid"
  wait_child
  rm -f "$state/pid"
  exits=$((exits + 1))
  echo "$exits" > "$state/exits"
  echo "$status" > "$state/last-status"
  echo "osconf: $(date '+%F %T') $name exited with status $status"
  [ -z "$stop" ] || break
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
