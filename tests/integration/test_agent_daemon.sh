#!/bin/bash
# Real `rollwave-agent run` daemons against the real coordinator over TLS on
# loopback: three agents with labels enrol with the join token and stay
# pending until an admin accepts them; then they are up with their labels
# and apps; an agent killed with SIGKILL is marked down within about three
# heartbeats and up again when it restarts (without the join token); the
# agents ride out a coordinator restart; a deploy command whose result is
# made while the coordinator is away is kept in the state file and
# delivered when the link is back; SIGTERM during a deploy waits for it and
# the result follows after the restart; a revoked agent stays out; SIGTERM
# stops an agent cleanly; an agent refuses a coordinator with another key
# than the one it pinned; a plain tcp:// coordinator URL without
# Insecure=yes is refused at start.
#
#   tests/integration/test_agent_daemon.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
COORD=$BUILD_DIR/coordinator/rollwave-coordinator
AGENT=$BUILD_DIR/agent/rollwave-agent
RW_BIN=$BUILD_DIR/cli/rollwave
D=$(mktemp -d "$BUILD_DIR/rw-agent-daemon.XXXXXX")
source "$(dirname "$0")/../harness/runid.sh"
th_run_init || exit 1 # this run's loopback ports (th_port), free of parallel runs'
PORT=$(th_port 0)
PORT2=$(th_port 1) # the other coordinator's
cpid=
opid=
declare -A apid=()
passed=0
failed=0
cleanup() {
	for p in "${apid[@]}"; do
		kill -9 "$p" 2>/dev/null
		{ wait "$p"; } 2>/dev/null
	done
	if [ -n "$cpid" ]; then
		kill "$cpid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$cpid" 2>/dev/null
	fi
	[ -n "$opid" ] && kill -9 "$opid" 2>/dev/null
	wait 2>/dev/null
	if [ "$failed" -eq 0 ]; then rm -rf "$D"; else echo "# work files kept in $D"; fi
}
trap cleanup EXIT
source "$(dirname "$0")/../harness/checks.sh"
# wait_for SECONDS COMMAND...: polls every 0.2 s until COMMAND succeeds.
RW() { "$RW_BIN" --coordinator "ipc://$D/admin.sock" "$@"; }

# ---- the coordinator ----
cat >"$D/c.conf" <<EOF
[Coordinator]
Listen=tls+tcp://127.0.0.1:$PORT
AdminSocket=ipc://$D/admin.sock
Database=$D/state.db
MetricsListen=
KeyFile=$D/coordinator.key
JoinTokenFile=$D/join-token
HeartbeatInterval=1s
Insecure=no
[TLS]
Certificate=$D/tls/coordinator.pem
CA=$D/tls/ca.crt
EOF
"$COORD" --config "$D/c.conf" init --san 127.0.0.1 >/dev/null || {
	echo "not ok - rollwave-coordinator init"
	exit 1
}
start_coordinator() {
	rm -f "$D/admin.sock"
	"$COORD" --config "$D/c.conf" run >>"$D/coordinator.log" 2>&1 &
	cpid=$!
	for _ in $(seq 50); do [ -S "$D/admin.sock" ] && break; sleep 0.1; done
}

# ---- agents: each its own StateDirectory, apps and agent.conf ----
# make_agent N LABELS TOKEN_LINE
make_agent() {
	local a=$D/agent$1
	mkdir -p "$a/apps" "$a/srv/web/releases/1.0"
	ln -s releases/1.0 "$a/srv/web/current"
	printf '[App]\nName=web\nRoot=%s/srv/web\n' "$a" >"$a/apps/web.conf"
	cat >"$a/agent.conf" <<EOF
[Agent]
StateDirectory=$a/state
AppsDirectory=$a/apps
Coordinator=tls+tcp://localhost:$PORT
Labels=$2
HeartbeatInterval=1s
$3

[TLS]
CA=$D/tls/ca.crt
EOF
}
start_agent() {
	ROLLWAVE_DEBUG=${ROLLWAVE_DEBUG:-} "$AGENT" --config "$D/agent$1/agent.conf" run >>"$D/agent$1.log" 2>&1 &
	apid[$1]=$!
}
fingerprint() { grep -o 'ed25519:[0-9a-f]*' "$D/agent$1.log" | head -1; }
host_id() { RW hosts --json | jq -r --arg fp "$(fingerprint "$1")" '.hosts[] | select(.fingerprint == $fp) | .id'; }
host_state() { RW hosts --json | jq -r --arg fp "$(fingerprint "$1")" '.hosts[] | select(.fingerprint == $fp) | .state'; }
count_state() { RW hosts --json | jq --arg s "$1" '[.hosts[] | select(.state == $s)] | length'; }
state_is() { [ "$(host_state "$1")" = "$2" ]; }
count_is() { [ "$(count_state "$1")" = "$2" ]; }

# A plain tcp:// coordinator without Insecure=yes is refused at start.
make_agent 9 "ring=9" ""
sed -i "s|^Coordinator=.*|Coordinator=tcp://127.0.0.1:$PORT|" "$D/agent9/agent.conf"
out=$(timeout 10 "$AGENT" --config "$D/agent9/agent.conf" run 2>&1)
rc=$?
check "tcp:// without Insecure=yes: the agent refuses to start (exit 2)" eq "$rc" 2
check "... and says why" has "$out" "is plain TCP.*Insecure=yes"
check "... before making any state" eq "$(ls "$D/agent9/state" 2>/dev/null | wc -l)" 0

start_coordinator
make_agent 1 "datacenter=fra ring=0 color=blue" "JoinTokenFile=$D/join-token"
make_agent 2 "datacenter=fra ring=1 color=green" "JoinToken=$(cat "$D/join-token")"
make_agent 3 "datacenter=ams ring=2" "JoinTokenFile=$D/join-token"
for n in 1 2 3; do start_agent $n; done

check "three agents enrol and are pending" wait_for 15 count_is pending 3
pending=$(RW hosts pending --json)
for n in 1 2 3; do
	check "agent $n: its key ($(fingerprint $n)) is listed pending" \
		has "$pending" "\"$(fingerprint $n)\""
done
check "agents say they wait for an admin" has "$(cat "$D/agent1.log")" "waiting for an admin to accept this host"
check "identity key is 0600" eq "$(stat -c %a "$D/agent1/state/identity.key")" 600
check "no coordinator key is pinned before acceptance" test ! -e "$D/agent1/state/coordinator.pub"
check "the join token never reaches the agent's log" \
	eq "$(grep -c -F -e "$(cat "$D/join-token")" "$D/agent1.log" "$D/agent2.log")" "$D/agent1.log:0
$D/agent2.log:0"

for id in $(jq -r '.hosts[].id' <<<"$pending"); do RW hosts accept "$id" >/dev/null; done
check "accepted agents come up" wait_for 15 count_is up 3
hosts=$(RW hosts --json)
label() { jq -r --arg fp "$(fingerprint "$1")" --arg k "$2" '.hosts[] | select(.fingerprint == $fp) | .labels[$k]' <<<"$hosts"; }
check "agent 1 is up with its labels" eq "$(label 1 ring)/$(label 1 datacenter)/$(label 1 color)" "0/fra/blue"
check "agent 2 is up with its labels" eq "$(label 2 ring)/$(label 2 color)" "1/green"
check "agent 3 is up with its labels" eq "$(label 3 ring)/$(label 3 datacenter)" "2/ams"
check "hosts report their app and its current release" \
	eq "$(jq -r --arg fp "$(fingerprint 1)" '.hosts[] | select(.fingerprint == $fp) | .apps[0].app + " " + .apps[0].current' <<<"$hosts")" "web 1.0"
check "the coordinator key is pinned (0600)" eq "$(stat -c %a "$D/agent1/state/coordinator.pub" 2>/dev/null)" 600
check "agents log that they are connected" has "$(cat "$D/agent1.log")" "connected to tls\+tcp://localhost:$PORT as host [0-9]+"

# kill -9: marked down within about three heartbeats (1 s each).
kill -9 "${apid[2]}"
{ wait "${apid[2]}"; } 2>/dev/null
unset 'apid[2]'
t0=$SECONDS
check "a killed agent is marked down" wait_for 8 state_is 2 down
check "... within about three heartbeats (took $((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 6
start_agent 2
check "restarted, it is up again" wait_for 10 state_is 2 up
check "... as the same host, without enrolling again" eq "$(RW hosts --json | jq '.hosts | length')" 3

# The agents ride out a coordinator restart.
sessions() { grep -c "as host" "$D/agent$1.log"; }
declare -A before=()
for n in 1 2 3; do before[$n]=$(sessions $n); done
kill "$cpid"
for _ in $(seq 50); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
kill -9 "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
sleep 2
check "agents keep running while the coordinator is away" kill -0 "${apid[1]}" "${apid[2]}" "${apid[3]}"
start_coordinator
reconnected() { for n in 1 2 3; do [ "$(sessions $n)" -gt "${before[$n]}" ] || return 1; done; }
check "after a coordinator restart every agent authenticates again" wait_for 40 reconnected
check "... and all are up" wait_for 10 count_is up 3

# ---- deploys through the link (agent 2) ----
"$RW_BIN" release keygen -W -p "$D/release.pub" -s "$D/release.key" >/dev/null
# mk_release VERSION: web VERSION whose before_activate hook takes 3 s.
mk_release() {
	local tree=$D/tree-$1
	mkdir -p "$tree/.rollwave/hooks" "$D/rel"
	echo "$1" >"$tree/VERSION"
	printf '#!/bin/sh\nsleep 3\n' >"$tree/.rollwave/hooks/before_activate"
	chmod +x "$tree/.rollwave/hooks/before_activate"
	tar --owner=0 --group=0 --numeric-owner -czf "$D/rel/web-$1.tar.gz" -C "$tree" . &&
		"$RW_BIN" release create --app web --version "$1" --artifact "$D/rel/web-$1.tar.gz" \
			-s "$D/release.key" --output "$D/rel/web-$1.manifest" >/dev/null
}
mk_release 2.0.0 && mk_release 3.0.0 || not_ok "release create"
a2=$D/agent2
printf '[App]\nName=web\nRoot=%s/srv/web\n[Health]\nExec=/bin/true\nMinHealthy=300ms\nInterval=100ms\n' \
	"$a2" >"$a2/apps/web.conf"
sed -i "s|^\[Agent\]|[Agent]\nTrustedKeys=$D/release.pub|" "$a2/agent.conf"
kill "${apid[2]}"
wait "${apid[2]}" 2>/dev/null
start_agent 2
check "agent 2 is up again with a release key" wait_for 15 state_is 2 up
ID2=$(host_id 2)
pending_results() { sqlite3 "$a2/state/state.db" "SELECT count(*) FROM pending_reports"; }
committed_events() { RW events --json --limit 1000 | jq '[.events[] | select(.action == "task.committed")] | length'; }
started() { grep -Eq "command [0-9]+: deploy web $1" "$D/agent2.log"; }
finished() { grep -Eq "command [0-9]+ \(deploy\): .*$1" "$D/agent2.log"; }

# A result made while the coordinator is away is delivered when it is back.
timeout 60 "$RW_BIN" --coordinator "ipc://$D/admin.sock" deploy web 2.0.0 \
	--manifest "file://$D/rel/web-2.0.0.manifest" --hosts "$ID2" --timeout 50s >"$D/deploy1.out" 2>&1 &
dpid=$!
check "a deploy command reaches the agent" wait_for 20 started 2.0.0
kill "$cpid"
for _ in $(seq 50); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
kill -9 "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
{ wait "$dpid"; } 2>/dev/null
check "the deploy finishes while the coordinator is away" wait_for 30 finished 2.0.0
check "... release 2.0.0 is live" eq "$(readlink "$a2/srv/web/current")" "releases/2.0.0"
check "... and its result is kept in the state file" eq "$(pending_results)" 1
before_events=$(sqlite3 "$D/state.db" "SELECT count(*) FROM audit WHERE action = 'task.committed'")
start_coordinator
no_pending() { [ "$(pending_results)" = 0 ]; }
events_grew() { [ "$(committed_events)" -gt "$before_events" ]; }
check "the result is delivered when the link is back" wait_for 40 no_pending
check "... and the coordinator records it" wait_for 20 events_grew

# SIGTERM during a deploy: the agent waits for it, then stops.
timeout 60 "$RW_BIN" --coordinator "ipc://$D/admin.sock" deploy web 3.0.0 \
	--manifest "file://$D/rel/web-3.0.0.manifest" --hosts "$ID2" --timeout 50s >"$D/deploy2.out" 2>&1 &
dpid=$!
check "a second deploy command reaches the agent" wait_for 20 started 3.0.0
kill -TERM "${apid[2]}"
check "SIGTERM during a deploy: the agent waits for it" wait_for 5 grep -q "waiting up to 30 s" "$D/agent2.log"
for _ in $(seq 300); do kill -0 "${apid[2]}" 2>/dev/null || break; sleep 0.1; done
wait "${apid[2]}"
rc=$?
check "... then stops with exit 0" eq "$rc" 0
check "... with the deploy finished: 3.0.0 is live" eq "$(readlink "$a2/srv/web/current")" "releases/3.0.0"
{ wait "$dpid"; } 2>/dev/null
start_agent 2
check "... and its result is delivered after the restart" wait_for 30 no_pending

# Revoked: stays out.
RW hosts revoke "$(host_id 3)" >/dev/null
check "a revoked host is revoked" wait_for 5 state_is 3 revoked
sleep 4
check "... and stays revoked while its agent retries" state_is 3 revoked
# The coordinator closes its connection; the agent learns it is revoked when
# it authenticates again (at worst after a heartbeat times out, 10 s).
check "... and its agent logs it" wait_for 30 grep -q "revoked this host" "$D/agent3.log"

# SIGTERM stops an agent cleanly.
kill -TERM "${apid[1]}"
for _ in $(seq 50); do kill -0 "${apid[1]}" 2>/dev/null || break; sleep 0.1; done
wait "${apid[1]}"
rc=$?
unset 'apid[1]'
check "SIGTERM stops an idle agent with exit 0" eq "$rc" 0

# Another coordinator (another key) at the agent's URL: the agent refuses it.
mkdir -p "$D/other"
sed "s|$D/|$D/other/|g; s|127.0.0.1:$PORT|127.0.0.1:$PORT2|" "$D/c.conf" >"$D/other/c.conf"
"$COORD" --config "$D/other/c.conf" init --san 127.0.0.1 >/dev/null
"$COORD" --config "$D/other/c.conf" run >>"$D/other/coordinator.log" 2>&1 &
opid=$!
sed -i "s|localhost:$PORT|localhost:$PORT2|; s|^CA=.*|CA=$D/other/tls/ca.crt|" "$D/agent1/agent.conf"
start_agent 1
check "an agent refuses a coordinator whose key is not the pinned one" \
	wait_for 15 grep -q "but this host is pinned to" "$D/agent1.log"
check "... and never enrols there" \
	eq "$("$RW_BIN" --coordinator "ipc://$D/other/admin.sock" hosts --json | jq '.hosts | length')" 0
kill "$opid"
for _ in $(seq 50); do kill -0 "$opid" 2>/dev/null || break; sleep 0.1; done
kill -9 "$opid" 2>/dev/null

echo "# $passed passed, $failed failed"
[ "$failed" -eq 0 ]
