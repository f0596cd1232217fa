#!/usr/bin/env bash
# Remove everything tests/lab/up.sh created: the rzlg* hosts (their sshd by pid file, processes left
# inside their network namespaces by pid), the rzv-* veths, the rzbr0 bridge, the lab's iptables
# rules, /var/lib/rightsize-lab and tests/lab/.state. Safe to run when nothing is up.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$HERE/lib.sh"

lab_require_root
lab_lock

# hosts: every rzlgN namespace plus any pid file left without its namespace
hosts=$( { lab_namespaces
           for f in "$LAB_STATE"/"$LAB_PREFIX"*.sshd.pid; do [ -e "$f" ] && basename "$f" .sshd.pid; done
         } | sort -uV )
for ns in $hosts; do lab_remove_host "$ns"; done

# stray veths (e.g. a namespace deleted by hand) and the bridge
for dev in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 \
             | grep -E "^${LAB_VETH_PREFIX}${LAB_PREFIX}[0-9]+\$" || true); do
  ip link delete "$dev" 2>/dev/null || true
done
if ip link show dev "$LAB_BR" >/dev/null 2>&1; then ip link delete "$LAB_BR"; fi

# iptables rules (each removed as often as it occurs)
while read -r table _action chain rule; do
  # shellcheck disable=SC2086
  while iptables -w -t "$table" -C "$chain" $rule "${LAB_TAG[@]}" 2>/dev/null; do
    iptables -w -t "$table" -D "$chain" $rule "${LAB_TAG[@]}"
  done
done < <(lab_rules)

rm -rf "${LAB_STATE:?}" "$HERE/.state"
echo "lab down"
