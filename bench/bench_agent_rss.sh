#!/bin/bash
# bench_agent_rss.sh — resident memory of an idle `rollwave-agent run`,
# connected to a real coordinator and heartbeating, next to a reference
# process (`sleep`) measured in the same run.
#
#   bench/bench_agent_rss.sh BUILD_DIR
#
# Starts rollwave-coordinator (init, then run) on 127.0.0.1 with a free port
# and the production transport: tls+tcp:// with the certificate `init` makes,
# verified by the agent against the CA (Insecure=no). Starts rollwave-agent
# run with its own state directory, one app with an installed release, the
# default heartbeat interval and the join token; accepts the host with
# `rollwave hosts accept`; waits until it is up and a heartbeat has arrived
# after the session came up; then samples the agent's VmRSS (and Pss, from
# /proc/PID/smaps_rollup) three times a second apart and keeps the highest.
# `rollwave-agent run` recovers interrupted operations and then execs
# rollwave-agentd in the same process (agent/daemon/daemon.h): the pid measured
# is the one started, and its process name says which program it runs.
#
# Prints the agent's figure against the target (the issue's 8 MiB), the
# reference's, their ratio, and the largest mappings. A benchmark: it never
# fails on a figure; it exits non-zero only when something could not run.
# Needs no root (the agent needs no systemd while idle). Bounded: about
# 20 s, never more than 60 s. Everything it starts is stopped on exit.
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
COORD=$BUILD_DIR/coordinator/rollwave-coordinator
AGENT=$BUILD_DIR/agent/rollwave-agent
RW_BIN=$BUILD_DIR/cli/rollwave
TARGET_KIB=8192
DEADLINE=$((SECONDS + 60))

die() {
	echo "bench_agent_rss: $*" >&2
	exit 1
}
for exe in "$COORD" "$AGENT" "$RW_BIN"; do
	[ -x "$exe" ] || die "$exe is missing; build first (ninja -C $BUILD_DIR)"
done
for tool in jq ss; do
	command -v "$tool" >/dev/null || die "$tool is missing"
done

mkdir -p "$BUILD_DIR/bench-work" || die "cannot create $BUILD_DIR/bench-work"
D=$(mktemp -d "$BUILD_DIR/bench-work/rss.XXXXXX") || die "cannot create a work dir"
cpid= apid= spid=
# stop PID: SIGTERM, up to 3 s to exit, then SIGKILL.
stop() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null
	for _ in $(seq 30); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$1" 2>/dev/null
	{ wait "$1"; } 2>/dev/null
}
cleanup() {
	local rc=$?
	trap - EXIT
	stop "$apid"
	stop "$cpid"
	stop "$spid"
	if [ "$rc" -eq 0 ]; then rm -rf "$D"; else echo "bench_agent_rss: work files kept in $D" >&2; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_for WHAT SECONDS COMMAND...: polls every 0.2 s, never past DEADLINE.
wait_for() {
	local what=$1 until=$((SECONDS + $2))
	shift 2
	[ "$until" -le "$DEADLINE" ] || until=$DEADLINE
	while [ "$SECONDS" -lt "$until" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	"$@" >/dev/null 2>&1 || die "timed out waiting for $what (logs in $D)"
}
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
	done
	return 1
}
RW() { "$RW_BIN" --coordinator "ipc://$D/admin.sock" "$@"; }
# kib FIELD FILE: the value in kB of "FIELD: N kB" in a /proc file.
kib() { awk -v f="$1:" '$1 == f { print $2; exit }' "$2"; }

# ---- the coordinator ----
PORT=$(free_port) || die "no free port found"
cat >"$D/c.conf" <<EOF
[Coordinator]
Listen=tls+tcp://127.0.0.1:$PORT
AdminSocket=ipc://$D/admin.sock
Database=$D/state.db
KeyFile=$D/coordinator.key
JoinTokenFile=$D/join-token
MetricsListen=
Insecure=no
[TLS]
Certificate=$D/tls/coordinator.pem
CA=$D/tls/ca.crt
EOF
"$COORD" --config "$D/c.conf" init --san 127.0.0.1 >"$D/init.log" 2>&1 ||
	die "rollwave-coordinator init failed: $(cat "$D/init.log")"
"$COORD" --config "$D/c.conf" run >"$D/coordinator.log" 2>&1 &
cpid=$!
wait_for "the coordinator's admin socket" 10 test -S "$D/admin.sock"

# ---- the agent: one app with its release installed, production defaults ----
mkdir -p "$D/agent/apps" "$D/agent/srv/web/releases/1.0.0"
ln -s releases/1.0.0 "$D/agent/srv/web/current"
printf '[App]\nName=web\nRoot=%s/agent/srv/web\n' "$D" >"$D/agent/apps/web.conf"
cat >"$D/agent/agent.conf" <<EOF
[Agent]
StateDirectory=$D/agent/state
AppsDirectory=$D/agent/apps
Coordinator=tls+tcp://localhost:$PORT
JoinTokenFile=$D/join-token

[TLS]
CA=$D/tls/ca.crt
EOF
"$AGENT" --config "$D/agent/agent.conf" run >"$D/agent.log" 2>&1 &
apid=$!
sleep 300 &
spid=$!

pending_id() { RW hosts pending --json | jq -e -r '.hosts[0].id // empty'; }
wait_for "the agent to enrol" 15 pending_id
RW hosts accept "$(pending_id)" >/dev/null || die "rollwave hosts accept failed"
host() { RW hosts --json | jq -e -r ".hosts[0].$1 // empty"; }
is_up() { [ "$(host state)" = up ]; }
wait_for "the accepted agent to come up" 20 is_up
# Idle and heartbeating: a heartbeat came in after the session was up.
seen=$(host last_seen)
heartbeat_after() { [ "$(host last_seen)" != "$seen" ]; }
wait_for "a heartbeat" 15 heartbeat_after
kill -0 "$apid" 2>/dev/null || die "the agent exited: $(tail -5 "$D/agent.log")"

# ---- measure: three samples a second apart, the highest of each ----
rss=0 pss=0 ref_rss=0 ref_pss=0
for _ in 1 2 3; do
	sleep 1
	v=$(kib VmRSS "/proc/$apid/status") && [ "${v:-0}" -gt "$rss" ] && rss=$v
	v=$(kib Pss "/proc/$apid/smaps_rollup") && [ "${v:-0}" -gt "$pss" ] && pss=$v
	v=$(kib VmRSS "/proc/$spid/status") && [ "${v:-0}" -gt "$ref_rss" ] && ref_rss=$v
	v=$(kib Pss "/proc/$spid/smaps_rollup") && [ "${v:-0}" -gt "$ref_pss" ] && ref_pss=$v
done
[ "$rss" -gt 0 ] && [ "$ref_rss" -gt 0 ] || die "cannot read /proc/$apid or /proc/$spid"
heartbeat=$(sed -n 's/^HeartbeatInterval=//p' "$D/agent/agent.conf")
echo "== bench_agent_rss: idle rollwave-agent run, $(nproc) CPUs"
echo "transport: tls+tcp://localhost:$PORT, production TLS (certificate from rollwave-coordinator init, CA verified, Insecure=no)"
echo "agent: pid $apid runs $(cat "/proc/$apid/comm"), $(ls "/proc/$apid/task" | wc -l) threads," \
	"host $(host id) up, heartbeat every ${heartbeat:-5s (default)}, last seen $(host last_seen)"
awk -v a="$rss" -v r="$ref_rss" -v t="$TARGET_KIB" 'BEGIN {
	printf "agent_idle_rss_kib = %d (target <= %d); reference sleep = %d KiB; ratio %.1fx\n", a, t, r, a / r }'
echo "agent Pss: $pss KiB (reference sleep: $ref_pss KiB)"
# The mappings that hold most of it, by Rss (KiB), summed per file.
awk '/^[0-9a-f]+-[0-9a-f]+ / { n = NF >= 6 ? $6 : "[anon]"; sub(".*/", "", n) }
	$1 == "Rss:" { rss[n] += $2 }
	END { for (n in rss) print rss[n], n }' "/proc/$apid/smaps" | sort -rn | head -8 |
	awk '{ s = s (NR > 1 ? ", " : "") $2 " " $1 } END { print "largest mappings (Rss KiB): " s }'
exit 0
