# runid.sh — a machine-wide id per test run (bash library; source it). Test
# runs go in parallel (ctest -j): everything a run shares with the machine
# (its bridge, subnet, netns, veth and cgroup names, its loopback ports) is
# derived from one net id N that no other live run holds.
#
#   source tests/harness/runid.sh
#   th_run_init || exit 1        # take a free net id (no-op if held already)
#   PORT=$(th_port 0)            # this run's loopback/bridge ports, 0..19
#   HTTP_PORT=$(th_port 1)
#
# Variables set by th_run_init (exported, for child processes to read):
#   TH_NET_ID      N, 1..254
#   TH_BRIDGE      rwbrN, the run's bridge (testhost.sh creates it)
#   TH_NET_PREFIX  10.231.N; hosts are 10.231.N.INDEX
#   TH_GATEWAY     10.231.N.1: the machine on the bridge, the hosts' default
#                  route and coordinator.rollwave.test in their /etc/hosts
#   TH_NS_PREFIX   rwtN-: host NAME lives in netns rwtN-NAME, cgroup rwtN-NAME
#   TH_VETH_PREFIX rwvN-: the machine side of host INDEX's veth is rwvN-INDEX
#                  (at most 10 characters: IFNAMSIZ is 16 with the NUL)
#   TH_PORT_BASE   22000 + 20 * N: th_port K is TH_PORT_BASE + K (below the
#                  kernel's ephemeral range, 32768 and up)
#
# Allocation: under the harness lock, the lowest N such that no live process
# owns /run/rwt-ids/N (it holds the owner's PID: $$ of the test script), no
# bridge rwbrN, netns rwtN-* or veth rwvN-* is left over from a dead run, and
# no socket uses a port of N's block. The file is written with $$ as owner;
# th_run_release (called by th_teardown_all from the allocating shell)
# deletes it, and a run that died without it frees N with its death
# (cleanup-leftovers.sh deletes its files and anything it left).

TH_LOCK=/run/lock/rwt-harness.lock
TH_ID_DIR=/run/rwt-ids
TH_PORTS_PER_RUN=20

# Run "$@" holding the machine-wide harness lock (net ids, bridges and host
# index allocation are shared by every harness running on this machine).
th__locked() {
	mkdir -p "$(dirname "$TH_LOCK")"
	(
		flock -w 60 9 || { echo "testhost: cannot take $TH_LOCK" >&2; exit 1; }
		"$@"
	) 9>"$TH_LOCK"
}

# th__id_free N: nothing of net id N is in use or left over.
th__id_free() {
	local n=$1 owner base
	owner=$(cat "$TH_ID_DIR/$n" 2>/dev/null)
	[ -n "$owner" ] && kill -0 "$owner" 2>/dev/null && return 1
	[ -e "/sys/class/net/rwbr$n" ] && return 1
	ip -o link show 2>/dev/null | grep -q ": rwv$n-" && return 1
	ip netns list 2>/dev/null | grep -q "^rwt$n-" && return 1
	base=$((22000 + TH_PORTS_PER_RUN * n))
	ss -Htan 2>/dev/null | awk -v lo="$base" -v hi="$((base + TH_PORTS_PER_RUN - 1))" '
		{ p = $4; sub(/.*:/, "", p); if (p + 0 >= lo && p + 0 <= hi) found = 1 }
		END { exit !found }' && return 1
	return 0
}

th__id_alloc() {
	local n
	mkdir -p "$TH_ID_DIR" || return 1
	for n in $(seq 1 254); do
		if th__id_free "$n"; then
			echo "$$" >"$TH_ID_DIR/$n" || return 1
			echo "$n"
			return 0
		fi
	done
	echo "testhost: no free net id (1..254); see tests/harness/cleanup-leftovers.sh" >&2
	return 1
}

# Must run in the caller's shell (not in $(...)) so that the variables stick.
th_run_init() {
	local n
	if [ -n "${TH_NET_ID:-}" ] && [ "$(cat "$TH_ID_DIR/$TH_NET_ID" 2>/dev/null)" = "$$" ]; then
		return 0
	fi
	n=$(th__locked th__id_alloc) || return 1
	TH__ID_SHELL=$BASHPID
	TH_NET_ID=$n
	TH_BRIDGE=rwbr$n
	TH_NET_PREFIX=10.231.$n
	TH_GATEWAY=$TH_NET_PREFIX.1
	TH_NS_PREFIX=rwt$n-
	TH_VETH_PREFIX=rwv$n-
	TH_PORT_BASE=$((22000 + TH_PORTS_PER_RUN * n))
	export TH_NET_ID TH_BRIDGE TH_NET_PREFIX TH_GATEWAY TH_NS_PREFIX TH_VETH_PREFIX TH_PORT_BASE
}

# th_port K: this run's port K (0..19).
th_port() {
	if [ -z "${TH_PORT_BASE:-}" ]; then
		echo "testhost: th_port before th_run_init" >&2
		return 1
	fi
	if ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -ge "$TH_PORTS_PER_RUN" ]; then
		echo "testhost: th_port $1: only 0..$((TH_PORTS_PER_RUN - 1))" >&2
		return 1
	fi
	echo $((TH_PORT_BASE + $1))
}

# Give the net id back; only the shell that took it does (a child shell's
# teardown leaves it to its parent, which may still check the run's names).
th_run_release() {
	[ -n "${TH_NET_ID:-}" ] && [ "${TH__ID_SHELL:-}" = "$BASHPID" ] || return 0
	[ "$(cat "$TH_ID_DIR/$TH_NET_ID" 2>/dev/null)" = "$$" ] && rm -f "$TH_ID_DIR/$TH_NET_ID"
	return 0
}
