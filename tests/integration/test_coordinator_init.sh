#!/bin/bash
# `rollwave-coordinator init` on a fresh directory: it creates the database,
# the identity key, the join token, a CA and a server certificate that the
# real openssl verifies; a second run changes nothing; bad configs are
# refused with the file and line.
#
#   tests/integration/test_coordinator_init.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
COORD=$BUILD_DIR/coordinator/rollwave-coordinator
D=$(mktemp -d /var/tmp/rw-coord-init.XXXXXX)
trap 'rm -rf "$D"' EXIT
passed=0
failed=0
source "$(dirname "$0")/../harness/checks.sh"
mode_is() { [ "$(stat -c %a "$1")" = "$2" ] || { echo "  $1 has mode $(stat -c %a "$1"), wanted $2" >&2; return 1; }; }
contains() { grep -Eq -- "$2" <<<"$1" || { echo "  no /$2/ in: $1" >&2; return 1; }; }

cat >"$D/c.conf" <<EOF
[Coordinator]
Listen=tls+tcp://0.0.0.0:7400
AdminSocket=ipc://$D/admin.sock
Database=$D/db/state.db
KeyFile=$D/db/coordinator.key
JoinTokenFile=$D/join-token
[TLS]
Certificate=$D/tls/coordinator.pem
CA=$D/tls/ca.crt
EOF

out=$("$COORD" --config "$D/c.conf" init --san coord.example --san 10.231.0.1 2>&1)
check "init succeeds" [ $? -eq 0 ]
check "init says what it created" contains "$out" "database: .*\(created\)"
check "identity key is 0600" mode_is "$D/db/coordinator.key" 600
check "join token is 0600" mode_is "$D/join-token" 600
check "CA key is 0600" mode_is "$D/tls/ca.key" 600
check "server certificate+key PEM is 0600" mode_is "$D/tls/coordinator.pem" 600
check "the database has the schema (5: tasks keep their target and output, traffic)" \
	[ "$(sqlite3 "$D/db/state.db" 'PRAGMA user_version')" = 5 ]
check "... with the traffic table" \
	[ "$(sqlite3 "$D/db/state.db" "SELECT count(*) FROM sqlite_master WHERE name = 'traffic'")" = 1 ]
check "init is in the audit log" \
	[ "$(sqlite3 "$D/db/state.db" "SELECT count(*) FROM audit WHERE action = 'coordinator.init'")" = 1 ]
check "openssl verifies the server certificate against the CA" \
	openssl verify -CAfile "$D/tls/ca.crt" "$D/tls/coordinator.pem"
sans=$(openssl x509 -in "$D/tls/coordinator.pem" -noout -ext subjectAltName 2>/dev/null)
check "the certificate names the --san names and addresses" \
	contains "$sans" "DNS:coord.example.*IP Address:10.231.0.1"
check "the certificate's key is ECDSA P-256" \
	contains "$(openssl x509 -in "$D/tls/coordinator.pem" -noout -text)" "prime256v1"

token=$(cat "$D/join-token")
fp=$(grep -o 'ed25519:[0-9a-f]*' <<<"$out")
sum=$(sha256sum "$D/tls/coordinator.pem" "$D/db/coordinator.key")
out2=$("$COORD" --config "$D/c.conf" init 2>&1)
check "a second init succeeds" [ $? -eq 0 ]
check "a second init keeps the key, token and certificate" \
	[ "$token" = "$(cat "$D/join-token")" -a "$sum" = "$(sha256sum "$D/tls/coordinator.pem" "$D/db/coordinator.key")" ]
check "a second init says everything was already there" \
	contains "$out2" "identity key: .*\(already there\), $fp"

printf '[Coordinator]\nListen=tcp://0.0.0.0:7400\nDatabase=%s/x.db\n' "$D" >"$D/bad1.conf"
out=$("$COORD" --config "$D/bad1.conf" init 2>&1)
check "plain tcp without Insecure=yes is refused (exit 2)" [ $? -eq 2 ]
check "... and the message says why" contains "$out" "plain TCP; use tls\+tcp://, or set Insecure=yes"
printf '[Coordinator]\nListen=tls+tcp://0.0.0.0:7400\nListn=x\n' >"$D/bad2.conf"
out=$("$COORD" --config "$D/bad2.conf" init 2>&1)
check "an unknown key is refused with file:line" contains "$out" "bad2.conf:3: unknown key 'Listn' in \[Coordinator\]"
chmod 0644 "$D/db/coordinator.key"
out=$("$COORD" --config "$D/c.conf" init 2>&1)
check "a world-readable identity key is refused" [ $? -ne 0 ]
check "... naming the file" contains "$out" "coordinator.key"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
