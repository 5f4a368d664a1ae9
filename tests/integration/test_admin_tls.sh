#!/bin/bash
# Admins over the network: AdminSocket=tls+tcp:// takes only clients that
# show a certificate signed by the coordinator's CA (made by
# `rollwave-coordinator admin-cert`); the CLI checks the coordinator's
# certificate against --ca and shows its own with --cert (or $ROLLWAVE_CERT).
# A client without a certificate, or with one of another CA, gets nothing
# and the coordinator keeps serving; actions are audited with the claimed
# user and the peer's address.
#
#   tests/integration/test_admin_tls.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
COORD=$BUILD_DIR/coordinator/rollwave-coordinator
RWB=$BUILD_DIR/cli/rollwave
SIM=$BUILD_DIR/bench/agentsim
D=$(mktemp -d "$BUILD_DIR/rw-admin-tls.XXXXXX")
source "$(dirname "$0")/../harness/runid.sh"
th_run_init || exit 1 # this run's loopback ports (th_port), free of parallel runs'
PORT=$(th_port 0)
APORT=$(th_port 1)
cpid=
failed=0
passed=0
trap '[ -n "$cpid" ] && kill "$cpid" 2>/dev/null; [ -n "$cpid" ] && wait "$cpid" 2>/dev/null; [ "$failed" -eq 0 ] && rm -rf "$D"' EXIT
source "$(dirname "$0")/../harness/checks.sh"

conf() { # conf DIR
	cat >"$1/c.conf" <<EOF
[Coordinator]
Listen=tls+tcp://127.0.0.1:$PORT
AdminSocket=tls+tcp://127.0.0.1:$APORT
Database=$1/state.db
KeyFile=$1/coordinator.key
JoinTokenFile=$1/join-token
MetricsListen=
HeartbeatInterval=1s
[TLS]
Certificate=$1/tls/coordinator.pem
CA=$1/tls/ca.crt
EOF
}
mkdir -p "$D/other"
conf "$D"
conf "$D/other"
"$COORD" --config "$D/c.conf" init >/dev/null || exit 1
"$COORD" --config "$D/other/c.conf" init >/dev/null || exit 1

out=$("$COORD" --config "$D/c.conf" admin-cert alice --out "$D/alice.pem")
check "admin-cert issues a client certificate" eq "$?" 0
check "... says where it is" has "$out" "alice.pem.*'alice'"
check "... mode 0600 (it holds the key)" eq "$(stat -c %a "$D/alice.pem")" 600
check "... with clientAuth, signed by the CA" \
	has "$(openssl verify -purpose sslclient -CAfile "$D/tls/ca.crt" "$D/alice.pem" 2>&1)" ": OK"
"$COORD" --config "$D/c.conf" admin-cert alice --out "$D/alice.pem" 2>/dev/null
check "... and never overwrites one" eq "$?" 1
"$COORD" --config "$D/other/c.conf" admin-cert mallory --out "$D/mallory.pem" >/dev/null

"$COORD" --config "$D/c.conf" run >>"$D/coordinator.log" 2>&1 &
cpid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$APORT) 2>/dev/null && break; sleep 0.1; done
URL=tls+tcp://localhost:$APORT

out=$("$RWB" --coordinator "$URL" --ca "$D/tls/ca.crt" --cert "$D/alice.pem" hosts --json)
check "an admin with a certificate of our CA lists the hosts" eq "$(jq '.hosts | length' <<<"$out")" 0
out=$(ROLLWAVE_COORDINATOR=$URL ROLLWAVE_CA=$D/tls/ca.crt ROLLWAVE_CERT=$D/alice.pem "$RWB" hosts --json)
check "... also from \$ROLLWAVE_COORDINATOR, \$ROLLWAVE_CA and \$ROLLWAVE_CERT" eq "$(jq '.hosts | length' <<<"$out")" 0

out=$("$RWB" --coordinator "$URL" --ca "$D/tls/ca.crt" hosts 2>&1)
check "without a certificate the CLI refuses to try" eq "$?" 1
check "... and says what is missing" has "$out" "needs your admin certificate: --cert FILE"
out=$("$RWB" --coordinator "$URL" --ca "$D/tls/ca.crt" --cert "$D/mallory.pem" hosts 2>&1)
check "a certificate of another CA gets nothing" eq "$?" 1
check "... a handshake failure" has "$out" "TLS handshake|cannot reach|closed"
s_client() { timeout 10 openssl s_client -brief -connect "127.0.0.1:$APORT" -CAfile "$D/tls/ca.crt" "$@" </dev/null 2>&1; }
no_session() { ! s_client | grep -aq 'CONNECTION ESTABLISHED'; }
check "a TLS client without a certificate does not complete the handshake" no_session
check "... which the same client with alice's certificate does" has "$(s_client -cert "$D/alice.pem" | tr -d '\0')" "CONNECTION ESTABLISHED"
out=$("$RWB" --coordinator "$URL" --ca "$D/other/tls/ca.crt" --cert "$D/alice.pem" hosts 2>&1)
check "the CLI refuses a coordinator whose certificate its CA did not sign" eq "$?" 1
out=$("$RWB" --coordinator "tcp://127.0.0.1:$APORT" hosts 2>&1)
check "plain tcp:// is refused by the CLI" has "$out" "plain tcp:// is not accepted"

# An audited action over TLS: accept an enrolled host.
timeout 60 "$SIM" --url "tls+tcp://localhost:$PORT" --ca "$D/tls/ca.crt" --agents 1 \
	--token "$(cat "$D/join-token")" --interval-ms 1000 --duration-s 1 >/dev/null
out=$("$RWB" --coordinator "$URL" --ca "$D/tls/ca.crt" --cert "$D/alice.pem" hosts accept 1 2>&1)
check "an admin over TLS accepts a host" eq "$?" 0
actor=$(sqlite3 "$D/state.db" "SELECT actor FROM audit WHERE action = 'host.accept'")
check "... audited with the claimed user and the peer's address" has "$actor" "^admin-tls:$(id -un)@[^@]+@127\.0\.0\.1$"
check "the coordinator is still running" kill -0 "$cpid"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
