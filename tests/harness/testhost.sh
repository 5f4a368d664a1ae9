# testhost.sh — boot and drive rollwave test hosts (bash library; source it).
#
# A test host is the machine's own root filesystem with a real systemd as
# PID 1 in new PID, mount and network namespaces (DESIGN.md, "Real components
# in tests"). Only /run, /tmp, /var/tmp, /srv and /etc/rollwave are private
# to a host (tmpfs); everything else on disk is shared with the machine, so
# binaries of a build directory outside those paths run inside hosts as is.
#
#   source tests/harness/testhost.sh
#   th_install_traps                  # tear every host down on exit/INT/TERM
#   th_run_init                       # this run's net id N (th_boot does it too)
#   th_boot web1                      # 10.231.N.2, running within seconds
#   th_boot web2 7                    # 10.231.N.7
#   th_write web1 /run/systemd/system/x.service <<<"$unit_text"
#   th_systemctl web1 daemon-reload
#   th_exec web1 rollwave-agent deploy sample --manifest ...
#   curl "http://$(th_ip web1):8080/version"
#   python3 -m http.server --bind "$TH_GATEWAY" "$(th_port 1)"   # hosts reach it
#
# Functions (all return non-zero on failure and say why on stderr):
#   th_run_init             take this run's net id (runid.sh); sets TH_GATEWAY,
#                           TH_NET_PREFIX, TH_BRIDGE, ... in the caller's shell
#   th_port K               this run's port K (0..19), free of other runs'
#   th_boot NAME [INDEX]    boot host NAME at $TH_NET_PREFIX.INDEX (2..254,
#                           default: lowest free); waits until `systemctl
#                           is-system-running` says running/degraded. Call
#                           th_run_init first if you boot hosts in background
#                           jobs (th_boot refuses to pick an id in a subshell)
#   th_exec NAME CMD...     run CMD inside the host (PID+mount+net ns of its
#                           PID 1, cwd /); stdin/stdout/stderr/exit status pass
#   th_systemctl NAME ARGS  systemctl inside the host (--no-pager)
#   th_write NAME PATH [MODE]  write stdin to PATH inside the host
#   th_put NAME SRC DEST [MODE] copy a machine file to DEST inside the host
#   th_pid NAME             outer PID of the host's systemd
#   th_ip NAME              the host's address
#   th_netns NAME           the host's netns name ($TH_NS_PREFIX NAME)
#   th_veth NAME            the machine side of the host's veth (on the bridge)
#   th_console NAME         print the host's console log (systemd's output)
#   th_kill NAME            kill -9 the host's PID 1 (the host dies at once)
#   th_hosts                names of hosts started by this harness
#   th_teardown_all         kill every host this harness started, delete its
#                           netns, veths, cgroups and the run's bridge, give
#                           the net id back; idempotent. Leaves TH_RUN_DIR
#                           (logs) in place; delete it yourself after teardown.
#   th_install_traps        EXIT/INT/TERM traps that call th_teardown_all
#
# Environment:
#   TH_RUN_DIR       per-run state (pids, console logs); default: a new
#                    mktemp -d under /var/tmp. Not visible inside hosts.
#   TH_SRV_SIZE      size of each host's /srv tmpfs (default 256m); small
#                    values make "disk full" tests
#   TH_ETC_SIZE      size of each host's /etc/rollwave tmpfs (default 16m)
#   TH_BOOT_TIMEOUT  seconds th_boot waits for the host (default 30)
#
# Names: each host has its own UTS namespace (hostname NAME) and a private
# /etc/hosts naming itself and the machine as coordinator.rollwave.test
# ($TH_GATEWAY), so agents can dial the coordinator by a name its TLS
# certificate holds.
#
# Network, one per run so that runs go in parallel (runid.sh allocates the
# net id N under the machine-wide lock /run/lock/rwt-harness.lock): bridge
# rwbrN ($TH_GATEWAY = 10.231.N.1/24) in the machine's namespace; host NAME
# lives in netns rwtN-NAME with eth0 = 10.231.N.INDEX/24 (veth, machine side
# rwvN-INDEX), lo up and a default route via the gateway; its cgroup is
# rwtN-NAME. Hosts reach each other and the machine ($TH_GATEWAY), never
# another run's hosts. th_teardown_all (and its traps) deletes all of it;
# cleanup-leftovers.sh deletes what a killed run left, of every net id.
# Processes started with th_exec are in the host's namespaces but not in its
# cgroup tree; use a unit (or systemd-run inside) for supervised processes.

TH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$TH_DIR/runid.sh"
TH_CGROUP_ROOTS=(/sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup)

th__err() { echo "testhost: $*" >&2; }

# Hosts this shell booted, also kept in memory: teardown still finds them
# if the run dir was deleted early.
declare -p TH__INDEX >/dev/null 2>&1 || declare -gA TH__INDEX=()
declare -p TH__LAUNCHER >/dev/null 2>&1 || declare -gA TH__LAUNCHER=()

# Create the run dir if needed. Must run in the caller's shell (not in $(...))
# so that TH_RUN_DIR sticks.
th__run_dir_init() {
	if [ -z "${TH_RUN_DIR:-}" ]; then
		TH_RUN_DIR=$(mktemp -d /var/tmp/rwt-run.XXXXXX) || return 1
		export TH_RUN_DIR
	fi
	mkdir -p "$TH_RUN_DIR/hosts"
}

th__hostdir() {
	if [ -z "${TH_RUN_DIR:-}" ]; then
		th__err "no host '$1' (TH_RUN_DIR is not set; th_boot sets it)"
		return 1
	fi
	echo "$TH_RUN_DIR/hosts/$1"
}

th__valid_name() {
	[[ $1 =~ ^[a-z0-9][a-z0-9-]{0,10}$ ]] || {
		th__err "bad host name '$1' (a-z0-9-, at most 11 characters)"
		return 1
	}
}

th__bridge_up() {
	if ! ip link show "$TH_BRIDGE" >/dev/null 2>&1; then
		ip link add "$TH_BRIDGE" type bridge || return 1
		ip addr add "$TH_GATEWAY/24" dev "$TH_BRIDGE" || return 1
	fi
	ip link set "$TH_BRIDGE" up
}

# The bridge is the run's own: it goes with the run's last host.
th__bridge_down() {
	[ -n "${TH_BRIDGE:-}" ] || return 0
	ip link show "$TH_BRIDGE" >/dev/null 2>&1 || return 0
	if [ -z "$(ls "/sys/class/net/$TH_BRIDGE/brif" 2>/dev/null)" ]; then
		ip link del "$TH_BRIDGE"
	fi
}

th_netns() { echo "$TH_NS_PREFIX$1"; }

th_veth() {
	local hdir index
	hdir=$(th__hostdir "$1") || return 1
	index=$(cat "$hdir/index" 2>/dev/null) || index=${TH__INDEX[$1]:-}
	[ -n "$index" ] || { th__err "no host '$1'"; return 1; }
	echo "$TH_VETH_PREFIX$index"
}

th__netns_exists() {
	[ -e "/run/netns/$TH_NS_PREFIX$1" ] || ip netns list | awk '{ print $1 }' | grep -qx "$TH_NS_PREFIX$1"
}

# Pick INDEX (or the lowest free one) and create the netns and veth pair.
th__net_setup() {
	local name=$1 index=$2 hdir=$3 ns=$TH_NS_PREFIX$1 i
	if th__netns_exists "$name"; then
		th__err "netns $ns exists already (another run, or a leftover: ip netns del $ns)"
		return 1
	fi
	if [ -z "$index" ]; then
		for i in $(seq 2 254); do
			ip link show "$TH_VETH_PREFIX$i" >/dev/null 2>&1 || { index=$i; break; }
		done
		[ -n "$index" ] || { th__err "no free host index"; return 1; }
	elif ip link show "$TH_VETH_PREFIX$index" >/dev/null 2>&1; then
		th__err "host index $index is in use (veth $TH_VETH_PREFIX$index exists)"
		return 1
	fi
	th__bridge_up || return 1
	ip netns add "$ns" || return 1
	# From here on the netns is ours: teardown deletes only what is marked.
	echo "$ns" >"$hdir/netns"
	# Who owns it: cleanup-leftovers.sh leaves hosts of live harnesses alone.
	mkdir -p /run/rwt-owners && echo "$$" >"/run/rwt-owners/$ns"
	echo "$index" >"$hdir/index"
	ip link add "$TH_VETH_PREFIX$index" type veth peer name eth0 netns "$ns" || return 1
	ip link set "$TH_VETH_PREFIX$index" master "$TH_BRIDGE" up || return 1
	ip -n "$ns" link set lo up || return 1
	ip -n "$ns" addr add "$TH_NET_PREFIX.$index/24" dev eth0 || return 1
	ip -n "$ns" link set eth0 up || return 1
	ip -n "$ns" route add default via "$TH_GATEWAY" || return 1
}

# Outer PID of the process that is PID 1 in netns rwtN-NAME, if any.
th__find_pid1() {
	local p nspid
	[ -n "${TH_NS_PREFIX:-}" ] || return 1
	for p in $(ip netns pids "$TH_NS_PREFIX$1" 2>/dev/null); do
		nspid=$(awk '/^NSpid:/ { print $NF; exit }' "/proc/$p/status" 2>/dev/null)
		if [ "$nspid" = 1 ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

th_pid() {
	local hdir pid
	hdir=$(th__hostdir "$1") || return 1
	pid=$(cat "$hdir/pid" 2>/dev/null) || { th__err "no host '$1'"; return 1; }
	# Guard against PID reuse: the PID must still be PID 1 of that netns.
	if [ "$(th__find_pid1 "$1")" != "$pid" ]; then
		th__err "host '$1' is not running"
		return 1
	fi
	echo "$pid"
}

th_ip() {
	local hdir
	hdir=$(th__hostdir "$1") || return 1
	[ -f "$hdir/index" ] || { th__err "no host '$1'"; return 1; }
	echo "$TH_NET_PREFIX.$(cat "$hdir/index")"
}

th_hosts() {
	local h
	[ -n "${TH_RUN_DIR:-}" ] || return 0
	for h in "$TH_RUN_DIR"/hosts/*/; do
		[ -d "$h" ] && basename "$h"
	done
	return 0
}

th_console() {
	local hdir
	hdir=$(th__hostdir "$1") || return 1
	cat "$hdir/boot.log" 2>/dev/null
	# script(1) records the console with CRs; strip them for reading.
	tr -d '\r' <"$hdir/console" 2>/dev/null
}

th_exec() {
	local name=$1 pid
	shift
	pid=$(th_pid "$name") || return 1
	nsenter -t "$pid" -p -m -n -u --wd=/ -- "$@"
}

th_systemctl() {
	local name=$1
	shift
	th_exec "$name" systemctl --no-pager "$@"
}

# th_write NAME PATH [MODE] — write stdin to PATH inside host NAME (creating
# its directory), e.g. a unit under /run/systemd/system or a config file
# under /etc/rollwave.
th_write() {
	local name=$1 path=$2 mode=${3:-0644}
	th_exec "$name" sh -c 'mkdir -p "$(dirname "$1")" && cat >"$1.th-tmp" &&
		chmod "$2" "$1.th-tmp" && mv -f "$1.th-tmp" "$1"' th_write "$path" "$mode"
}

# th_put NAME SRC DEST [MODE] — copy the machine's file SRC to DEST inside
# host NAME (for files the host cannot see, e.g. under /var/tmp or /tmp).
th_put() {
	local mode=${4:-$(stat -c %a "$2")}
	th_write "$1" "$3" "$mode" <"$2"
}

# Put the calling (sub)shell into cgroup rwtN-NAME of every mounted hierarchy
# that systemd uses, so the host's systemd takes that as its root and never
# shares (or cleans up) the machine's root cgroup with other hosts.
th__cgroup_enter() {
	local root
	for root in "${TH_CGROUP_ROOTS[@]}"; do
		[ -f "$root/cgroup.procs" ] || continue
		mkdir -p "$root/$TH_NS_PREFIX$1" && echo "$BASHPID" >"$root/$TH_NS_PREFIX$1/cgroup.procs" || return 1
	done
}

th__cgroup_remove() {
	local root try cg=$TH_NS_PREFIX$1
	for root in "${TH_CGROUP_ROOTS[@]}"; do
		[ -d "$root/$cg" ] || continue
		for try in $(seq 1 50); do
			find "$root/$cg" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$root/$cg" ] || break
			sleep 0.1
		done
		[ -d "$root/$cg" ] && th__err "cannot remove cgroup $root/$cg"
	done
	return 0
}

th_boot() {
	local name=$1 index=${2:-} hdir pid state launcher deadline t0
	th__valid_name "$name" || return 1
	th__run_dir_init || return 1
	hdir=$(th__hostdir "$name") || return 1
	if [ -e "$hdir/netns" ]; then
		th__err "host '$name' was booted already in this run"
		return 1
	fi
	if [ -z "${TH_NET_ID:-}" ] && [ "$BASHPID" != "$$" ]; then
		th__err "th_boot $name in a subshell: call th_run_init first (in the script's shell)"
		return 1
	fi
	th_run_init || return 1
	mkdir -p "$hdir" || return 1
	: >"$hdir/console"
	: >"$hdir/boot.log"
	t0=$EPOCHREALTIME
	# The machine-side mount point for the private /etc/rollwave (empty dir).
	[ -d /etc/rollwave ] || mkdir -p /etc/rollwave
	echo "$name" >"$hdir/name"
	if ! th__locked th__net_setup "$name" "$index" "$hdir" >>"$hdir/boot.log" 2>&1; then
		th__err "network setup of host '$name' failed:"
		cat "$hdir/boot.log" >&2
		th__teardown_host "$name"
		rm -rf "$hdir"
		return 1
	fi
	index=$(cat "$hdir/index")
	TH__INDEX[$name]=$index
	# script(1) gives the host a pseudo-terminal as /dev/console and records
	# it; the command is DESIGN.md's recipe.
	(
		th__cgroup_enter "$name" || exit 1
		exec script -qfec "exec ip netns exec $TH_NS_PREFIX$name unshare --pid --fork --mount --uts \
--mount-proc --propagation private $TH_DIR/th-boot.sh $name $TH_GATEWAY" "$hdir/console"
	) </dev/null >/dev/null 2>>"$hdir/boot.log" &
	launcher=$!
	TH__LAUNCHER[$name]=$launcher
	echo "$launcher" >"$hdir/launcher"

	deadline=$((SECONDS + ${TH_BOOT_TIMEOUT:-30}))
	pid=
	while [ $SECONDS -lt $deadline ]; do
		if [ -z "$pid" ]; then
			pid=$(th__find_pid1 "$name") && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ] || pid=
			[ -n "$pid" ] && echo "$pid" >"$hdir/pid"
		fi
		if [ -n "$pid" ]; then
			state=$(nsenter -t "$pid" -p -m -n --wd=/ systemctl is-system-running 2>/dev/null)
			case $state in
			running | degraded)
				awk -v a="$t0" -v b="$EPOCHREALTIME" -v h="$name $pid $TH_NET_PREFIX.$index" \
					'BEGIN { printf "%s %.2fs\n", h, b - a }' >"$hdir/booted"
				[ "$state" = degraded ] && th__err "host '$name' is degraded:" &&
					th_systemctl "$name" --failed >&2
				return 0
				;;
			esac
		fi
		if ! kill -0 "$launcher" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	th__err "host '$name' did not boot (state '${state:-none}', pid '${pid:-none}'); console:"
	th_console "$name" | tail -n 60 | sed 's/^/    /' >&2
	th__teardown_host "$name"
	return 1
}

th_kill() {
	local pid
	pid=$(th_pid "$1") || return 1
	kill -9 "$pid"
}

# Kill host NAME (if it runs) and delete everything the harness made for it.
th__teardown_host() {
	local name=$1 hdir pid launcher index t
	hdir=$(th__hostdir "$name" 2>/dev/null) || hdir=/nonexistent
	# Never touch a netns (or its processes) another run created.
	[ -f "$hdir/netns" ] || [ -n "${TH__INDEX[$name]+set}" ] || return 0
	pid=$(th__find_pid1 "$name") && kill -9 "$pid" 2>/dev/null
	# Anything else still in the netns (e.g. a process the boot script left
	# before becoming systemd, or a stray nsenter).
	for t in $(seq 1 50); do
		pid=$(ip netns pids "$TH_NS_PREFIX$name" 2>/dev/null)
		[ -z "$pid" ] && break
		kill -9 $pid 2>/dev/null
		sleep 0.1
	done
	launcher=$(cat "$hdir/launcher" 2>/dev/null) || launcher=${TH__LAUNCHER[$name]:-}
	# Only if that PID still is our launcher (script ... rwtN-NAME ...).
	if [ -n "$launcher" ] && tr '\0' ' ' 2>/dev/null <"/proc/$launcher/cmdline" |
		grep -q "ip netns exec $TH_NS_PREFIX$name unshare"; then
		kill -9 "$launcher" 2>/dev/null
		wait "$launcher" 2>/dev/null
	fi
	index=$(cat "$hdir/index" 2>/dev/null) || index=${TH__INDEX[$name]:-}
	if [ -n "$index" ]; then
		ip link del "$TH_VETH_PREFIX$index" 2>/dev/null
	fi
	if th__netns_exists "$name"; then
		ip netns del "$TH_NS_PREFIX$name" || th__err "cannot delete netns $TH_NS_PREFIX$name"
	fi
	rm -f "/run/rwt-owners/$TH_NS_PREFIX$name"
	th__cgroup_remove "$name"
	rm -f "$hdir/pid" "$hdir/launcher" "$hdir/index" "$hdir/netns" 2>/dev/null
	unset "TH__INDEX[$name]" "TH__LAUNCHER[$name]"
	return 0
}

th_teardown_all() {
	local h names=("${!TH__INDEX[@]}")
	if [ -n "${TH_RUN_DIR:-}" ] && [ -d "$TH_RUN_DIR/hosts" ]; then
		for h in "$TH_RUN_DIR"/hosts/*/; do
			[ -d "$h" ] && names+=("$(basename "$h")")
		done
	fi
	if [ ${#names[@]} -gt 0 ]; then
		for h in $(printf '%s\n' "${names[@]}" | sort -u); do
			th__teardown_host "$h"
		done
	fi
	# The bridge goes with the run's last host; the net id is given back
	# only by the shell that took it (a parent may still check the names).
	[ -n "${TH_NET_ID:-}" ] && th__locked th__bridge_down
	th_run_release
	return 0
}

th_install_traps() {
	trap 'th__rc=$?; trap - EXIT; th_teardown_all; exit $th__rc' EXIT
	trap 'th_teardown_all; trap - INT; kill -INT $$' INT
	trap 'th_teardown_all; trap - TERM; kill -TERM $$' TERM
}
