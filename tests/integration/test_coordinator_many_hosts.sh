#!/bin/bash
# A registry larger than one admin message: 12,000 hosts (written straight
# into the coordinator's SQLite file before it starts, each with labels and
# two apps) come back whole from `rollwave hosts` and `hosts pending`, page
# by page, in id order, each once; a selector still filters across pages.
#
#   tests/integration/test_coordinator_many_hosts.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
COORD=$BUILD_DIR/coordinator/rollwave-coordinator
D=$(mktemp -d "$BUILD_DIR/rw-many-hosts.XXXXXX")
source "$(dirname "$0")/../harness/runid.sh"
th_run_init || exit 1 # this run's loopback ports (th_port), free of parallel runs'
PORT=$(th_port 0)
cpid=
failed=0
passed=0
trap '[ -n "$cpid" ] && kill "$cpid" 2>/dev/null; [ -n "$cpid" ] && wait "$cpid" 2>/dev/null; [ "$failed" -eq 0 ] && rm -rf "$D"' EXIT
source "$(dirname "$0")/../harness/checks.sh"

cat >"$D/c.conf" <<EOF
[Coordinator]
Listen=tcp://127.0.0.1:$PORT
Insecure=yes
AdminSocket=ipc://$D/admin.sock
Database=$D/state.db
KeyFile=$D/coordinator.key
JoinTokenFile=$D/join-token
MetricsListen=
EOF
"$COORD" --config "$D/c.conf" init >/dev/null || exit 1

# 12,000 hosts: 10,000 down, 2,000 pending; ~250 bytes each on the wire.
sqlite3 "$D/state.db" >/dev/null <<'EOF' || exit 1
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000)
INSERT INTO hosts (host_key, hostname, labels, apps, agent_version, state, enrolled_ms)
SELECT randomblob(32), printf('host-%05d.dc%d.example.net', i, i % 2),
       printf('{"datacenter":"dc%d","ring":"%d","role":"web"}', i % 2, i % 3),
       '[{"app":"web","current":"1.4.2","previous":"1.4.1","health":1,"releases":["1.4.1","1.4.2"]},{"app":"worker","current":"2.0.0","previous":"","health":1,"releases":["2.0.0"]}]',
       '0.1.0', CASE WHEN i > 10000 THEN 'pending' ELSE 'down' END, 1700000000000
FROM n;
EOF
"$COORD" --config "$D/c.conf" run >>"$D/coordinator.log" 2>&1 &
cpid=$!
for _ in $(seq 50); do [ -S "$D/admin.sock" ] && break; sleep 0.1; done
RW="$BUILD_DIR/cli/rollwave --coordinator ipc://$D/admin.sock"

$RW hosts --json >"$D/hosts.json"
check "rollwave hosts exits 0 with 12,000 hosts" eq "$?" 0
check "... and lists all 12,000" eq "$(jq '.hosts | length' "$D/hosts.json")" 12000
check "... each once, in id order" eq "$(jq '[.hosts[].id] == ([.hosts[].id] | unique)' "$D/hosts.json")" true
check "... with their apps" eq "$(jq '[.hosts[] | select(.apps | length == 2)] | length' "$D/hosts.json")" 12000
check "the listing needed more than one page (one admin message holds 1 MiB)" \
	test "$(stat -c %s "$D/hosts.json")" -gt $((2 * 1024 * 1024))
check "a selector filters across pages" \
	eq "$($RW hosts --selector datacenter=dc1,ring=0 --json | jq '.hosts | length')" 2000
check "rollwave hosts pending lists the 2,000 pending hosts" \
	eq "$($RW hosts pending --json | jq '.hosts | length')" 2000
check "the table has one line per host and a header" eq "$($RW hosts | wc -l)" 12001
check "one host of the last page is there too" eq "$($RW host 12000 --json | jq -r '.hosts[0].hostname // .hostname')" host-12000.dc0.example.net

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
