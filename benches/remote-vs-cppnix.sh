#!/usr/bin/env bash
# Per-derivation overhead of remote building: N trivial derivations built with `-j0` on two
# remote machines (OpenSSH servers on loopback, started here, each running nixkit's
# `nix-store --serve --write` on a store of its own, two builds at a time), by nixkit's
# scheduler and by CppNix 2.8's build hook, side by side. Every run starts from empty
# local and remote stores; rounds alternate between the two clients; medians reported.
#
# Usage: remote-vs-cppnix.sh [N [ROUNDS]]   (defaults: 200 3)
# Needs CppNix (`nix-build`), /usr/sbin/sshd (openssh-server), busybox-static and user
# namespaces. Runs as the current user against its own sshds; touches no system store.
set -euo pipefail

n=${1:-200}
rounds=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cargo build --release -q -p nixkit --manifest-path "$root/Cargo.toml"
nixkit="$root/target/release/nixkit"
for need in nix-build /usr/sbin/sshd ssh-keygen /bin/busybox; do
    command -v "$need" >/dev/null || { echo "skipped: $need missing"; exit 0; }
done

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/bin" /run/sshd
ln -s "$nixkit" "$tmp/bin/nix-store"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/id"
cp "$tmp/id.pub" "$tmp/authorized_keys"
user=$(id -un)
: >"$tmp/ssh_config"
for m in 1 2; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    ssh-keygen -q -t ed25519 -N '' -f "$tmp/host$m"
    cat >"$tmp/sshd$m.conf" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $tmp/host$m
AuthorizedKeysFile $tmp/authorized_keys
PidFile $tmp/sshd$m.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
MaxStartups 100
MaxSessions 100
SetEnv PATH=$tmp/bin:/usr/bin:/bin NIXKIT_STORE=$tmp/remote$m
CONF
    /usr/sbin/sshd -D -e -f "$tmp/sshd$m.conf" 2>/dev/null &
    pids+=($!)
    cat >>"$tmp/ssh_config" <<CONF
Host machine$m
  HostName 127.0.0.1
  Port $port
CONF
done
cat >>"$tmp/ssh_config" <<CONF
Host *
  User $user
  IdentityFile $tmp/id
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
CONF
export NIX_SSHOPTS="-F $tmp/ssh_config"
for m in 1 2; do
    for _ in $(seq 100); do ssh $NIX_SSHOPTS "machine$m" true 2>/dev/null && break; sleep 0.1; done
done

system="$(uname -m)-linux"
cat >"$tmp/drvs.nix" <<NIX
let
  busybox = builtins.path { path = if builtins.pathExists /usr/bin/busybox then /usr/bin else /bin; name = "busybox"; filter = p: t: baseNameOf p == "busybox"; };
  one = i: derivation {
    name = "trivial-\${toString i}";
    system = "$system";
    builder = "\${busybox}/busybox";
    args = [ "sh" "-c" "echo \${toString i} > \$out" ];
  };
in builtins.genList one $n
NIX
builders="ssh://machine1 $system - 2; ssh://machine2 $system - 2"
mkdir -p "$tmp/conf"
echo "substituters =" >"$tmp/conf/nix.conf"

run() { # kind -> seconds
    rm -rf "$tmp/remote1" "$tmp/remote2" "$tmp/local"
    local t0 t1
    t0=$(date +%s.%N)
    if [ "$1" = nixkit ]; then
        "$nixkit" build "$tmp/drvs.nix" --no-out-link -j0 --builders "$builders" --store "$tmp/local" >"$tmp/out" 2>"$tmp/err" || return 1
    else
        NIX_CONF_DIR="$tmp/conf" NIX_STATE_DIR="$tmp/local-state" \
            nix-build "$tmp/drvs.nix" --no-out-link -j0 --builders "$builders" --store "$tmp/local" >"$tmp/out" 2>"$tmp/err" || return 1
    fi
    [ "$(wc -l <"$tmp/out")" -eq "$n" ] || { echo "expected $n outputs" >>"$tmp/err"; return 1; }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}

declare -A times
for round in $(seq "$rounds"); do
    for kind in nixkit cppnix; do
        if ! t=$(run "$kind"); then
            echo "$kind failed:"; tail -5 "$tmp/err"; exit 1
        fi
        times[$kind]="${times[$kind]:-} $t"
        printf 'round %s %-7s %.2f s\n' "$round" "$kind" "$t"
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
nk=$(echo "${times[nixkit]}" | median); cp=$(echo "${times[cppnix]}" | median)
echo
printf '%s trivial derivations on 2 remotes: nixkit %.2f s (%.1f ms each), cppnix %.2f s (%.1f ms each), ratio %.2f\n' \
    "$n" "$nk" "$(echo "$nk * 1000 / $n" | bc -l)" "$cp" "$(echo "$cp * 1000 / $n" | bc -l)" "$(echo "$nk / $cp" | bc -l)"
