#!/bin/bash
# Hostile and out-of-order input to the coordinator's sockets: each gets a
# refusal naming what was wrong (or, past the size cap, the connection is
# dropped by nng before anything is read), and the coordinator keeps serving
# real agents afterwards. Only admins (by the admin socket's file
# permissions) reach the admin socket.
#
#   tests/integration/test_coordinator_bad_input.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
COORD=$BUILD_DIR/coordinator/rollwave-coordinator
SIM=$BUILD_DIR/bench/agentsim
PROBE=$BUILD_DIR/tests/integration/wire_probe
D=$(mktemp -d "$BUILD_DIR/rw-coord-bad.XXXXXX")
chmod 755 "$D"
source "$(dirname "$0")/../harness/runid.sh"
th_run_init || exit 1 # this run's loopback ports (th_port), free of parallel runs'
PORT=$(th_port 0)
cpid=
passed=0
failed=0
trap '[ -n "$cpid" ] && kill "$cpid" 2>/dev/null; wait 2>/dev/null; [ "$failed" -eq 0 ] && rm -rf "$D"' EXIT
source "$(dirname "$0")/../harness/checks.sh"
probe() { # probe DESCRIPTION URL KIND REGEX
	local out
	out=$(timeout 30 "$PROBE" "$2" "$3" 2>&1)
	if grep -Eq -- "$4" <<<"$out"; then ok "$1"; else not_ok "$1"; echo "  got: $out" >&2; fi
}

cat >"$D/c.conf" <<EOF
[Coordinator]
Listen=tcp://127.0.0.1:$PORT
Insecure=yes
AdminSocket=ipc://$D/admin.sock
Database=$D/state.db
MetricsListen=
KeyFile=$D/coordinator.key
JoinTokenFile=$D/join-token
HeartbeatInterval=1s
EOF
"$COORD" --config "$D/c.conf" init >/dev/null || exit 1
"$COORD" --config "$D/c.conf" run >"$D/coordinator.log" 2>&1 &
cpid=$!
for _ in $(seq 50); do [ -S "$D/admin.sock" ] && break; sleep 0.1; done
A="tcp://127.0.0.1:$PORT"

probe "garbage bytes are refused as undecodable" "$A" garbage "^error 3: .*not a decodable"
probe "a truncated message is refused" "$A" truncated "^error 3: "
probe "an empty message is refused" "$A" empty "^error 1: .*version 0"
probe "a wrong protocol version is refused, naming ours" "$A" version "^error 1: .*version 99, this peer speaks 1"
probe "an unknown message type is refused" "$A" unknown-type "^error 2: "
probe "an admin request on the agent socket is refused" "$A" admin-on-agent "^error 2: 'admin_request' is not a request agents may send"
probe "a heartbeat before authentication is refused" "$A" heartbeat-unauthenticated "^error 4: .*not authenticated"
probe "an oversized message is dropped at the transport (RECVMAXSZ)" "$A" oversized "^no reply"
probe "an agent message on the admin socket is refused" "ipc://$D/admin.sock" heartbeat-unauthenticated "^error 2: the admin socket takes admin requests"
probe "garbage on the admin socket is refused" "ipc://$D/admin.sock" garbage "^error 3: "

if id nobody >/dev/null 2>&1; then
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$PROBE" "ipc://$D/admin.sock" garbage 2>&1)
	if grep -q "cannot connect" <<<"$out"; then
		ok "a user without the admin socket's permissions cannot connect"
	else
		not_ok "a user without the admin socket's permissions cannot connect"
		echo "  got: $out" >&2
	fi
fi

out=$(timeout 60 "$SIM" --url "$A" --agents 5 --token "$(cat "$D/join-token")" \
	--admin "ipc://$D/admin.sock" --interval-ms 500 --duration-s 3)
if grep -q "welcomed=5 pending=0 refused=0 heartbeats=[0-9]* errors=0" <<<"$out"; then
	ok "after all that the coordinator still serves agents"
else
	not_ok "after all that the coordinator still serves agents"
	echo "  got: $out" >&2
fi
if kill -0 "$cpid" 2>/dev/null; then ok "the coordinator is still running"; else not_ok "the coordinator is still running"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
