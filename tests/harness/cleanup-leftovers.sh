#!/bin/bash
# cleanup-leftovers.sh — remove test hosts that a killed test run left behind:
# every process living in an rwt-* network namespace is killed (its PID 1
# first, which tears the host down), then the namespaces, veths, the bridge
# and the rwt-* cgroups are deleted. Safe to run when nothing is left.
set -u
for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^rwt-/ {print $1}'); do
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
for link in $(ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^rwv-/ {sub(/@.*/, "", $2); print $2}'); do
	ip -o link show "$link" 2>/dev/null | grep -q 'link-netns' || ip link del "$link" 2>/dev/null
done
# The bridge goes only when no host of any run is attached to it any more.
if ! ip -o link show master rwbr0 2>/dev/null | grep -q .; then
	ip link del rwbr0 2>/dev/null
fi
for root in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
	for cg in "$root"/rwt-*; do
		[ -d "$cg" ] || continue
		[ -e "/run/netns/${cg##*/}" ] && continue
		find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
	done
done
exit 0
