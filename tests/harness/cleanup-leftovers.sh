#!/bin/bash
# cleanup-leftovers.sh — remove test hosts that killed test runs left behind,
# of every net id (runid.sh): every process living in an rwt*-* network
# namespace (rwtN-NAME, and rwt-NAME of older harnesses) is killed (its PID 1
# first, which tears the host down), then the namespaces, the rwv*-* veths,
# the rwbr* bridges, the rwt*-* cgroups and the net id files of dead runs
# are deleted. Whatever a run that is still alive owns (its owner PID in
# /run/rwt-owners or /run/rwt-ids) is left alone. Safe to run when nothing
# is left.
set -u
ID_DIR=/run/rwt-ids

# id_live N: net id N is held by a live run.
id_live() {
	local owner
	owner=$(cat "$ID_DIR/$1" 2>/dev/null)
	[ -n "$owner" ] && kill -0 "$owner" 2>/dev/null
}

for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^rwt[0-9]*-/ {print $1}'); do
	# A host whose harness is still running is not a leftover.
	owner=$(cat "/run/rwt-owners/$ns" 2>/dev/null)
	if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then
		continue
	fi
	pids=$(ip netns pids "$ns" 2>/dev/null)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
		sleep 0.2
	done
	ip netns del "$ns" 2>/dev/null && echo "removed leftover test host netns $ns"
	rm -f "/run/rwt-owners/$ns"
done
# Machine-side veth ends whose peer namespace is gone.
for link in $(ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^rwv[0-9]*-/ {sub(/@.*/, "", $2); print $2}'); do
	ip -o link show "$link" 2>/dev/null | grep -q 'link-netns' || ip link del "$link" 2>/dev/null
done
# A bridge goes when no host is attached to it any more and its run is dead
# (rwbr0: the machine-wide bridge of older harnesses, shared by their runs).
for br in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '$2 ~ /^rwbr[0-9]+$/ {print $2}'); do
	n=${br#rwbr}
	[ "$n" != 0 ] && id_live "$n" && continue
	if ! ip -o link show master "$br" 2>/dev/null | grep -q .; then
		ip link del "$br" 2>/dev/null && echo "removed leftover test bridge $br"
	fi
done
for root in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
	for cg in "$root"/rwt*-*; do
		[ -d "$cg" ] || continue
		[ -e "/run/netns/${cg##*/}" ] && continue
		find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
	done
done
# Net ids of dead runs.
for f in "$ID_DIR"/*; do
	[ -f "$f" ] || continue
	id_live "${f##*/}" || rm -f "$f"
done
exit 0
