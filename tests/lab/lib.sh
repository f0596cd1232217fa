# shellcheck shell=bash
# Shared names and helpers for tests/lab/up.sh and tests/lab/down.sh (sourced, not executed).
# Every object the lab creates carries one of these names; down.sh removes only these.

LAB_BR=rzbr0                      # Linux bridge; the box itself is the target host at LAB_BR_ADDR
LAB_BR_ADDR=10.88.0.1
LAB_SUBNET=10.88.0.0/24
LAB_PREFIX=rzlg                   # namespace hosts rzlg1..rzlgN at 10.88.0.11, .12, ...
LAB_VETH_PREFIX=rzv-              # host-side veth of rzlgN is rzv-rzlgN; the namespace side is eth0
LAB_STATE=/var/lib/rightsize-lab  # key, sshd config/pid/log files, private dirs of each host
LAB_KEY=$LAB_STATE/id_ed25519
LAB_LOCK=/run/rightsize-lab.lock  # outside LAB_STATE so that down.sh can delete LAB_STATE under the lock
LAB_TAG=(-m comment --comment rightsize-lab)

lab_die() { echo "lab: $*" >&2; exit 1; }

lab_require_root() {
  [ "$(id -u)" -eq 0 ] || lab_die "must run as root (creates namespaces, a bridge and iptables rules)"
}

# Serialise up.sh/down.sh runs (pytest sessions and the lead's suite may overlap).
lab_lock() {
  exec 9>"$LAB_LOCK"
  flock -w 120 9 || lab_die "another up.sh/down.sh holds $LAB_LOCK"
}

lab_addr() { echo "10.88.0.$((10 + $1))"; }   # host index -> address

# iptables rules of the lab, one per line: TABLE ACTION CHAIN RULE... (the comment tag is appended).
# - FORWARD -i BR -o BR: Docker sets FORWARD policy DROP and loads br_netfilter, which otherwise
#   silently drops traffic bridged between two namespace hosts (Locust master <-> workers).
# - MASQUERADE + the two FORWARD accepts: hosts reach the outside (pip install) through the box.
# - INPUT -i BR: hosts reach the box's (target's) ports even if the INPUT policy is not ACCEPT.
lab_rules() {
  cat <<RULES
filter -I FORWARD -i $LAB_BR -o $LAB_BR -j ACCEPT
filter -I FORWARD -i $LAB_BR ! -o $LAB_BR -j ACCEPT
filter -I FORWARD -o $LAB_BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
filter -I INPUT -i $LAB_BR -j ACCEPT
nat -A POSTROUTING -s $LAB_SUBNET ! -o $LAB_BR -j MASQUERADE
RULES
}

# Existing lab namespaces (rzlgN), sorted by index.
lab_namespaces() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${LAB_PREFIX}[0-9]+\$" | sort -V || true
}

# True if the pid file names a live (not zombie) sshd outside the box's own network namespace
# (so never the box's sshd after pid reuse); with a second argument, inside that lab namespace.
lab_sshd_alive() {
  local pidf=$1 ns=${2:-} pid netns
  [ -s "$pidf" ] || return 1
  pid=$(<"$pidf")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sshd ] || return 1
  grep -q '^State:[[:space:]]*[RSD]' "/proc/$pid/status" 2>/dev/null || return 1
  netns=$(readlink "/proc/$pid/ns/net" 2>/dev/null) || return 1
  [ "$netns" != "$(readlink /proc/self/ns/net)" ] || return 1
  [ -z "$ns" ] || [ "$(ip netns identify "$pid" 2>/dev/null)" = "$ns" ]
}

# Remove one namespace host: its sshd (by pid file), any process left inside its network
# namespace (by pid, e.g. Locust workers started over SSH), the namespace, its veth, its files.
lab_remove_host() {
  local ns=$1 pidf=$LAB_STATE/$1.sshd.pid pids pid _
  if lab_sshd_alive "$pidf"; then kill "$(<"$pidf")" 2>/dev/null || true; fi
  if [ -e "/run/netns/$ns" ]; then
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [ -n "$pids" ]; then
      for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
      for _ in $(seq 1 20); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -z "$pids" ] && break
        sleep 0.1
      done
      for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
    fi
    ip netns delete "$ns"
  fi
  if ip link show dev "$LAB_VETH_PREFIX$ns" >/dev/null 2>&1; then ip link delete "$LAB_VETH_PREFIX$ns"; fi
  rm -rf "${LAB_STATE:?}/$ns" "$LAB_STATE/$ns".*
}
