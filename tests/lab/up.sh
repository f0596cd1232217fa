#!/usr/bin/env bash
# Bring up the rightsize multi-host test lab on this one machine (idempotent, ~1 s when already up).
#   bridge rzbr0 10.88.0.1/24   = the box itself, the `target` host (connection local)
#   namespaces rzlg1..rzlgN      = `loadgen` hosts at 10.88.0.11.. with their own sshd, hostname
#                                  and private /opt /srv /tmp /var/tmp /root
# N = $RIGHTSIZE_LAB_HOSTS (default 2); extra rzlg hosts from an earlier, larger N are removed.
# Writes the Ansible inventory tests/lab/.state/inventory.yml. Undo with tests/lab/down.sh.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=tests/lab/lib.sh
. "$HERE/lib.sh"

N=${RIGHTSIZE_LAB_HOSTS:-2}
[[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 99 ] || lab_die "RIGHTSIZE_LAB_HOSTS must be 1..99, got '$N'"
INV_DIR=$HERE/.state
INV=$INV_DIR/inventory.yml
SSH=(ssh -i "$LAB_KEY" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes
     -o ConnectTimeout=5 -o LogLevel=ERROR)

lab_require_root

# --- packages (apt only when something is missing) -------------------------------------------
need=()
for p in openssh-server openssh-client iproute2 iptables util-linux python3; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "lab: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

lab_lock

# --- state dir, lab key, sshd config ----------------------------------------------------------
mkdir -p "$LAB_STATE" /run/sshd   # /run/sshd: sshd's privilege-separation dir (no systemd to make it)
chmod 755 "$LAB_STATE"
[ -s "$LAB_KEY" ] && [ -s "$LAB_KEY.pub" ] || {
  rm -f "$LAB_KEY" "$LAB_KEY.pub"
  ssh-keygen -q -t ed25519 -N '' -C rightsize-lab -f "$LAB_KEY"
}
cat >"$LAB_STATE/sshd_config.new" <<'CONF'
# sshd of a rightsize lab host (tests/lab/up.sh); ListenAddress, HostKey, PidFile come from the command line.
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile .ssh/authorized_keys
StrictModes no
UseDNS no
PrintMotd no
X11Forwarding no
MaxStartups 200
MaxSessions 200
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
CONF
mv -f "$LAB_STATE/sshd_config.new" "$LAB_STATE/sshd_config"

# --- bridge and iptables ----------------------------------------------------------------------
ip link show dev "$LAB_BR" >/dev/null 2>&1 || ip link add "$LAB_BR" type bridge
ip -4 -o addr show dev "$LAB_BR" | grep -qw "$LAB_BR_ADDR/24" || ip addr add "$LAB_BR_ADDR/24" dev "$LAB_BR"
ip link set "$LAB_BR" up
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || echo 1 >/proc/sys/net/ipv4/ip_forward  # for the NAT (Docker sets it too)
while read -r table action chain rule; do
  # shellcheck disable=SC2086  # the rule is split into words on purpose
  iptables -w -t "$table" -C "$chain" $rule "${LAB_TAG[@]}" 2>/dev/null \
    || iptables -w -t "$table" "$action" "$chain" $rule "${LAB_TAG[@]}"
done < <(lab_rules)

# --- hosts beyond N from an earlier run -------------------------------------------------------
for ns in $(lab_namespaces); do
  [ "${ns#"$LAB_PREFIX"}" -le "$N" ] || { echo "lab: removing $ns (RIGHTSIZE_LAB_HOSTS=$N)"; lab_remove_host "$ns"; }
done

# --- namespace hosts --------------------------------------------------------------------------
hosts_file() {  # private /etc/hosts of every lab host: its own name plus all lab names
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\tlab-target\n' "$LAB_BR_ADDR"
  for j in $(seq 1 "$N"); do printf '%s\t%s%s\n' "$(lab_addr "$j")" "$LAB_PREFIX" "$j"; done
}

recreated=0
for i in $(seq 1 "$N"); do
  ns=$LAB_PREFIX$i; addr=$(lab_addr "$i"); veth=$LAB_VETH_PREFIX$ns
  root=$LAB_STATE/$ns; pidf=$LAB_STATE/$ns.sshd.pid

  [ -e "/run/netns/$ns" ] || ip netns add "$ns"
  if ! ip -n "$ns" link show dev eth0 >/dev/null 2>&1; then
    ip link delete "$veth" 2>/dev/null || true
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    recreated=1
  fi
  ip link set "$veth" master "$LAB_BR" up
  ip -n "$ns" link set lo up
  ip -n "$ns" -4 -o addr show dev eth0 | grep -qw "$addr/24" || ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route replace default via "$LAB_BR_ADDR"

  # private directories (bind-mounted over /opt /srv /tmp /var/tmp /root inside the host)
  mkdir -p "$root"/{opt,srv,tmp,vartmp,root/.ssh}
  chmod 1777 "$root/tmp" "$root/vartmp"
  chmod 700 "$root/root" "$root/root/.ssh"
  install -m 600 "$LAB_KEY.pub" "$root/root/.ssh/authorized_keys"
  [ -s "$root/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "root@$ns" -f "$root/ssh_host_ed25519_key"
  # rewritten in place, never replaced: a running host's /etc/hosts is a bind mount of this inode
  hosts_file | cmp -s - "$root/hosts" 2>/dev/null || hosts_file >"$root/hosts"

  if ! lab_sshd_alive "$pidf" "$ns"; then
    rm -f "$pidf"
    # Own mount + UTS namespace: hostname, private dirs and /etc/hosts; everything else (/usr,
    # /etc, python3) is shared with the box. sshd daemonizes; its listener keeps the namespaces.
    ip netns exec "$ns" unshare --mount --uts --propagation private sh -c '
      set -e
      ns=$1 root=$2 addr=$3 pidf=$4 state=$5
      hostname "$ns"
      mount --bind "$root/opt" /opt
      mount --bind "$root/srv" /srv
      mount --bind "$root/tmp" /tmp
      mount --bind "$root/vartmp" /var/tmp
      mount --bind "$root/root" /root
      mount --bind "$root/hosts" /etc/hosts
      ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # load generators want many sockets
      exec /usr/sbin/sshd -f "$state/sshd_config" -E "$state/$ns.sshd.log" -h "$root/ssh_host_ed25519_key" \
        -o ListenAddress="$addr" -o PidFile="$pidf"
    ' sh "$ns" "$root" "$addr" "$pidf" "$LAB_STATE" </dev/null
    # sshd writes its pid file after it listens
    for _ in $(seq 1 50); do [ -s "$pidf" ] && break; sleep 0.1; done
    lab_sshd_alive "$pidf" "$ns" || { tail -5 "$LAB_STATE/$ns.sshd.log" >&2 || true; lab_die "sshd of $ns did not start"; }
  fi
done
if [ "$recreated" = 1 ]; then
  # a recreated veth has a new MAC: stale neighbour entries make SSH hang
  ip neigh flush dev "$LAB_BR" 2>/dev/null || true
  for i in $(seq 1 "$N"); do ip -n "$LAB_PREFIX$i" neigh flush dev eth0 2>/dev/null || true; done
fi

# --- Ansible inventory ------------------------------------------------------------------------
mkdir -p "$INV_DIR"
{
  echo "# Generated by tests/lab/up.sh (RIGHTSIZE_LAB_HOSTS=$N); removed by tests/lab/down.sh."
  echo "all:"
  echo "  children:"
  echo "    target:"
  echo "      hosts:"
  echo "        lab-target:"
  echo "          ansible_connection: local"
  echo "          ansible_host: $LAB_BR_ADDR"
  echo "          ansible_python_interpreter: /usr/bin/python3"
  echo "    loadgen:"
  echo "      hosts:"
  for i in $(seq 1 "$N"); do
    echo "        $LAB_PREFIX$i:"
    echo "          ansible_host: $(lab_addr "$i")"
    echo "          ansible_user: root"
    echo "          ansible_ssh_private_key_file: $LAB_KEY"
    # the lab's throw-away hosts only: real hosts keep SSH's host key checking (ansible.cfg)
    echo "          ansible_host_key_checking: false"
    # Locust's wheels from the controller (the lab hosts share the box's Python): no pip index per host
    echo "          locust_wheelhouse: $REPO_ROOT/.cache/wheels"
    echo "          ansible_ssh_common_args: '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'"
    echo "          ansible_python_interpreter: /usr/bin/python3"
  done
} >"$INV.new"
mv -f "$INV.new" "$INV"

# --- checks -----------------------------------------------------------------------------------
for i in $(seq 1 "$N"); do
  ns=$LAB_PREFIX$i; addr=$(lab_addr "$i"); got=
  for _ in 1 2 3; do
    got=$("${SSH[@]}" "root@$addr" hostname 2>/dev/null) && break
    sleep 0.3
  done
  [ "$got" = "$ns" ] || lab_die "ssh root@$addr (hostname) returned '$got', expected '$ns'; see $LAB_STATE/$ns.sshd.log"
  # the box (target) answers from the host: a connect or a refusal both prove it; a timeout does not
  ip netns exec "$ns" python3 -c '
import socket, sys
s = socket.socket(); s.settimeout(3)
try:
    s.connect((sys.argv[1], 9))
except ConnectionRefusedError:
    pass
except OSError as e:
    sys.exit("cannot reach the box at %s: %s" % (sys.argv[1], e))
' "$LAB_BR_ADDR" || lab_die "$ns cannot reach $LAB_BR_ADDR (INPUT rule?)"
done
for i in $(seq 2 "$N"); do
  ip netns exec "${LAB_PREFIX}1" timeout 5 bash -c "exec 3<>/dev/tcp/$(lab_addr "$i")/22" 2>/dev/null \
    || lab_die "${LAB_PREFIX}1 cannot open TCP to ${LAB_PREFIX}$i:22 (FORWARD rule for $LAB_BR missing?)"
done

echo "lab ready: $N host(s) ${LAB_PREFIX}1..${LAB_PREFIX}$N on $LAB_SUBNET, target $LAB_BR_ADDR, inventory $INV"
