#!/bin/bash
# The coordinator with many simulated agents speaking the real protocol over
# TLS (bench/agentsim): enrolment with the join token leaves hosts pending,
# an admin accept lets them in, heartbeats keep them up, silence marks them
# down after three missed heartbeats, a restart brings them up again, and a
# wrong join token gets nothing. Assertions read the real SQLite file and the
# Prometheus endpoint.
#
#   tests/integration/test_coordinator_fleet.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
COORD=$BUILD_DIR/coordinator/rollwave-coordinator
SIM=$BUILD_DIR/bench/agentsim
D=$(mktemp -d "$BUILD_DIR/rw-coord-fleet.XXXXXX")
source "$(dirname "$0")/../harness/runid.sh"
th_run_init || exit 1 # this run's loopback ports (th_port), free of parallel runs'
PORT=$(th_port 0)
MPORT=$(th_port 1)
cpid=
trap '[ -n "$cpid" ] && kill "$cpid" 2>/dev/null; wait 2>/dev/null; [ "$failed" -eq 0 ] && rm -rf "$D"' EXIT
passed=0
failed=0
source "$(dirname "$0")/../harness/checks.sh"
count() { sqlite3 "$D/state.db" "SELECT count(*) FROM hosts WHERE state = '$1'"; }

cat >"$D/c.conf" <<EOF
[Coordinator]
Listen=tls+tcp://127.0.0.1:$PORT
AdminSocket=ipc://$D/admin.sock
Database=$D/state.db
KeyFile=$D/coordinator.key
JoinTokenFile=$D/join-token
HeartbeatInterval=1s
MetricsListen=127.0.0.1:$MPORT
[TLS]
Certificate=$D/tls/coordinator.pem
CA=$D/tls/ca.crt
EOF
"$COORD" --config "$D/c.conf" init --san 127.0.0.1 >/dev/null || exit 1
start_coordinator() {
	"$COORD" --config "$D/c.conf" run >>"$D/coordinator.log" 2>&1 &
	cpid=$!
	for _ in $(seq 50); do [ -S "$D/admin.sock" ] && break; sleep 0.1; done
}
start_coordinator
TOKEN=$(cat "$D/join-token")
sim() { timeout 120 "$SIM" --url "tls+tcp://localhost:$PORT" --ca "$D/tls/ca.crt" "$@"; }

out=$(sim --agents 20 --token "$TOKEN" --interval-ms 1000 --duration-s 2)
check "20 agents with the join token enrol as pending" eq "$(count pending)" 20
check "rollwave hosts pending lists them" \
	eq "$("$BUILD_DIR/cli/rollwave" --coordinator "ipc://$D/admin.sock" hosts pending --json | jq '.hosts | length')" 20
check "... and none is let in before an admin accepts" has "$out" "welcomed=0 pending=20"

out=$(sim --agents 20 --token wrong-token-0123456789 --first 100 --duration-s 2)
check "agents with a wrong join token are refused" has "$out" "welcomed=0 pending=0 refused=20"
check "... and leave no trace in the host registry" eq "$(sqlite3 "$D/state.db" 'SELECT count(*) FROM hosts')" 20

RW="$BUILD_DIR/cli/rollwave --coordinator ipc://$D/admin.sock"
out=$($RW hosts accept 1 2 99999 2>&1)
check "accepting several hosts with one unknown is refused" eq "$?" 1
check "... naming it" has "$out" "host 99999: no such host \(none of the 3 hosts was accepted\)"
check "... and accepts none" eq "$(count pending)" 20
out=$($RW hosts accept --all-pending --json)
check "hosts accept --all-pending accepts the 20 at once" eq "$(jq '.ids | length' <<<"$out")" 20
check "... and says so" eq "$(jq -r .message <<<"$out")" "20 hosts accepted; each is up once its agent connects"
check "... none is pending any more" eq "$(count pending)" 0
check "... nothing left to accept" has "$($RW hosts accept --all-pending)" "No host is pending"
sim --agents 20 --token "$TOKEN" --interval-ms 1000 --duration-s 5 >"$D/sim.out" &
simpid=$!
sleep 4
check "accepted hosts heartbeating are up" eq "$(count up)" 20
check "rollwave hosts lists the 20 hosts up" eq "$($RW hosts --json | jq '[.hosts[] | select(.state == "up")] | length')" 20
check "rollwave hosts --selector ring=0 filters by label" \
	eq "$($RW hosts --selector ring=0 --json | jq '.hosts | length')" 7
check "rollwave apps counts the versions the hosts run" \
	has "$($RW apps)" "sim +20 +1\.0\.0 \(7\), 1\.0\.1 \(7\), 1\.0\.2 \(6\)"
check "rollwave host shows one host's apps" has "$($RW host 1)" "sim"
metrics=$(curl -fsS "http://127.0.0.1:$MPORT/metrics")
metric() { awk -v k="$1" '$1 == k { print $2 }' <<<"$metrics"; }
check "metrics: 20 hosts up" eq "$(metric 'rollwave_hosts{state="up"}')" 20
check "metrics: heartbeats are counted" [ "$(metric 'rollwave_agent_messages_total{type="heartbeat"}')" -ge 20 ]
check "metrics: the wrong join tokens are counted as unauthorized auths" \
	eq "$(metric 'rollwave_agent_errors_total{type="auth",code="unauthorized"}')" 20
check "metrics: the accept requests are counted (one refused, one for all 20)" \
	eq "$(metric 'rollwave_admin_requests_total{type="host_accept"}')" 2
check "metrics: ... and the refusal" eq "$(metric 'rollwave_admin_errors_total{type="host_accept",code="invalid"}')" 1
check "metrics: heartbeat lag of up hosts is under 3 intervals" \
	awk -v v="$(metric 'rollwave_heartbeat_lag_seconds{stat="max"}')" 'BEGIN { exit !(v >= 0 && v < 3) }'
well_formed() { ! grep -v '^#' <<<"$metrics" | grep -Evq "$SAMPLE_RE"; }
SAMPLE_RE='^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (NaN|[0-9.e+-]+)$'
check "metrics: every sample line is NAME{labels} VALUE" well_formed
check "metrics: anything but GET /metrics is refused" \
	eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$MPORT/metrics")" 405
wait "$simpid"
out=$(cat "$D/sim.out")
check "every heartbeat was answered" has "$out" "welcomed=20 pending=0 refused=0 heartbeats=[0-9]+ errors=0"
check "accepts are in the audit log with who asked" \
	eq "$(sqlite3 "$D/state.db" "SELECT count(*) FROM audit WHERE action = 'host.accept' AND actor LIKE 'admin%'")" 20

t0=$SECONDS
for _ in $(seq 100); do [ "$(count down)" = 20 ] && break; sleep 0.1; done
check "silent hosts are marked down within 3 heartbeats (+1 s tick)" eq "$(count down)" 20
check "... in at most 5 s ($((SECONDS - t0)) s)" [ $((SECONDS - t0)) -le 5 ]

sim --agents 20 --token "$TOKEN" --interval-ms 1000 --duration-s 3 >"$D/sim2.out" &
simpid=$!
sleep 2
check "restarted agents are up again without a new accept" eq "$(count up)" 20
wait "$simpid"

kill -9 "$cpid"
wait "$cpid" 2>/dev/null
cpid=
start_coordinator
out=$(sim --agents 20 --token "$TOKEN" --interval-ms 1000 --duration-s 2)
check "after a coordinator SIGKILL and restart the hosts are known and welcomed" \
	has "$out" "welcomed=20 pending=0 refused=0"
check "the coordinator never crashed" bash -c "! grep -q -i 'sanitizer\|segfault' '$D/coordinator.log'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
